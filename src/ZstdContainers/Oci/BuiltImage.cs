namespace ZstdContainers.Oci;

/// <summary>One layer of an image we are about to ship, and where its bytes come from.</summary>
/// <param name="Descriptor">As written into the manifest.</param>
/// <param name="DiffId">sha256 of the uncompressed tar, as listed in the config.</param>
/// <param name="Source">Where to read the blob from if a destination needs its bytes.</param>
/// <param name="SourceRepository">
/// For a base layer reused as it is: the registry and repository it lives in, so a push to the
/// same registry can mount it instead of uploading it. Null for blobs we produced.
/// </param>
/// <param name="SeenInSource">
/// The registry answered, during this publish, that <paramref name="SourceRepository"/> holds the
/// blob (the registry layer cache's HEAD): a push to that same repository need not ask again.
/// </param>
public sealed record ImageLayer(Descriptor Descriptor, Digest DiffId, IBlobSource Source, ImageReference? SourceRepository = null, bool SeenInSource = false);

/// <summary>
/// A finished single-platform image: the exact manifest and config bytes (their digests are
/// final) and its layers. Destinations only ship it; nothing here changes after it is built.
/// </summary>
public sealed record BuiltImage(
    byte[] Manifest,
    Digest ManifestDigest,
    string ManifestMediaType,
    byte[] Config,
    Digest ConfigDigest,
    IReadOnlyList<ImageLayer> Layers,
    Platform Platform)
{
    public Descriptor ManifestDescriptor => new()
    {
        MediaType = ManifestMediaType,
        Digest = ManifestDigest,
        Size = Manifest.Length,
        Platform = Platform,
    };

    public Descriptor ConfigDescriptor => new()
    {
        MediaType = MediaTypes.OciConfig,
        Digest = ConfigDigest,
        Size = Config.Length,
    };
}
