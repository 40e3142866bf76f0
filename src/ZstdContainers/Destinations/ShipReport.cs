using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>How one blob reached its destination; the publish report shows it per layer.</summary>
public enum BlobTransfer
{
    /// <summary>Its bytes were sent to the registry.</summary>
    Uploaded,

    /// <summary>The target repository had it already (HEAD), so nothing was sent.</summary>
    AlreadyPresent,

    /// <summary>Mounted from another repository of the same registry, so nothing was sent.</summary>
    Mounted,

    /// <summary>
    /// A layer taken over from an image in the registry's layer cache (images the user names)
    /// rather than built here; a sink that reuses such layers says so with this.
    /// </summary>
    ReusedFromRegistryCache,

    /// <summary>Written into an archive or streamed into a local docker/podman load.</summary>
    Written,
}

/// <summary>What a sink did with one blob (a layer or the config), and how long it took.</summary>
public sealed record BlobShipment(Digest Digest, long Size, BlobTransfer Transfer, TimeSpan Elapsed)
{
    /// <summary>Bytes that actually crossed the wire for this blob.</summary>
    public long SentBytes => Transfer == BlobTransfer.Uploaded ? Size : 0;
}

/// <summary>
/// What a sink reports back after shipping an image set: one entry per blob it handled (layers and
/// configs, in the order of the images' layers). Sinks fill it where the push happens, so the
/// report never guesses.
/// </summary>
public sealed record ShipReport(IReadOnlyList<BlobShipment> Blobs)
{
    public static readonly ShipReport Empty = new([]);

    /// <summary>The entry for a blob, or null when the sink did not handle it (e.g. not published).</summary>
    public BlobShipment? Find(Digest digest) => Blobs.FirstOrDefault(b => b.Digest == digest);

    /// <summary>Every blob of the set marked as written (archive, local daemon).</summary>
    public static ShipReport AllWritten(ImageSet images, TimeSpan elapsed) => new(
        [.. images.Images.SelectMany(image => image.Layers.Select(l => new BlobShipment(l.Descriptor.Digest, l.Descriptor.Size, BlobTransfer.Written, elapsed))
            .Append(new BlobShipment(image.ConfigDigest, image.Config.Length, BlobTransfer.Written, elapsed)))
            .DistinctBy(b => b.Digest)]);
}
