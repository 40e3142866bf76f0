using System.Text;
using System.Text.Json.Nodes;
using ZstdContainers.Caching;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Building;

/// <summary>
/// Ties the per-RID images of a multi-architecture publish together in an OCI image index and
/// hands it to the sink: a registry (the inner builds pushed the images already, so only the index
/// goes up, under every tag), or an archive or the local docker (with all blobs).
/// </summary>
public sealed class ImageIndexPublisher(RegistryClientOptions registryOptions, IBuildLog log)
{
    public async Task<(IndexBlob Index, string? ArchivePath)> PublishAsync(ImageIndexRequest request, IImageSink sink, CancellationToken cancellationToken)
    {
        if (request.Images.Count == 0)
        {
            throw new ZstdContainersException(ErrorCodes.UnsupportedManifest, $"There are no per-RID images to put in the image index. Check {UserSetting.RuntimeIdentifiers}.");
        }
        sink.CheckWritable();

        var manifests = request.Images.Select(ReadImage).ToList();
        var timestamp = LayerEntryPolicy.FromEnvironment(request.SourceDateEpoch).Timestamp;
        var created = string.IsNullOrWhiteSpace(request.SourceDateEpoch) ? DateTimeOffset.UtcNow : timestamp;
        var index = new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests = [.. manifests.Select(m => m.Descriptor)],
            Annotations = ImageAnnotations.Resolve(request.IndexAnnotations, created, baseManifestDigest: null),
        };
        var indexBytes = OciJson.Serialize(index);
        var indexBlob = new IndexBlob(indexBytes, Digest.Of(indexBytes), MediaTypes.OciIndex);

        using var baseRegistry = new RegistryClient(request.BaseImage.Registry, RegistryAccesses.ForBaseImage(request.BaseImage.Registry, request.OutputRegistry), registryOptions);
        using var cache = new LayerCache(request.Compression.CacheDirectory ?? LayerCache.DefaultDirectory(registryOptions.Environment), log);
        var handOff = ContainerImagePublisher.HandOffFor(request.Compression, cache);
        var images = new ImageSet
        {
            Images = [.. manifests.Select(m => ToBuiltImage(m, request, baseRegistry, handOff, cache))],
            Index = indexBlob,
            Repository = request.Repository,
            Tags = request.Tags,
            Timestamp = timestamp,
        };
        await sink.ShipAsync(images, cancellationToken).ConfigureAwait(false);
        handOff.Clear(); // shipped: the per-RID builds' blobs are not needed again
        log.Summary($"{sink.Verb} image index {sink.Describe(request.Repository, request.Tags)} ({indexBlob.Digest}): {string.Join(", ", manifests.Select(m => m.Descriptor.Platform))}.");
        return (indexBlob, (sink as ArchiveSink)?.Path);
    }

    private sealed record ImageParts(byte[] Manifest, ImageManifest Parsed, byte[] Config, IReadOnlyList<Digest> DiffIds, Descriptor Descriptor);

    private static ImageParts ReadImage(GeneratedImage image)
    {
        var manifestBytes = Encoding.UTF8.GetBytes(image.Manifest);
        var digest = Digest.Of(manifestBytes);
        if (digest.Value != image.ManifestDigest)
        {
            throw new ZstdContainersException(ErrorCodes.DigestMismatch, $"The per-RID image {image.ManifestDigest} reached the index task with a manifest that hashes to {digest}. Rebuild without incremental state (dotnet publish --no-incremental).");
        }
        var name = "the per-RID image " + image.ManifestDigest;
        var config = ImageDocument.ParseObject(Encoding.UTF8.GetBytes(image.Configuration), name, "config");
        var platform = ImageDocument.ConfigPlatform(config, name);
        var descriptor = new Descriptor { MediaType = image.ManifestMediaType, Digest = digest, Size = manifestBytes.Length, Platform = platform };
        var diffIds = ImageDocument.DiffIds(config, name);
        return new ImageParts(manifestBytes, ImageDocument.Deserialize<ImageManifest>(manifestBytes, name, "manifest"), Encoding.UTF8.GetBytes(image.Configuration), diffIds, descriptor);
    }

    /// <summary>
    /// Finds every layer's bytes for an archive or daemon: our own blobs (app layers, and transcoded
    /// base layers when the cache was temporary) were handed off under obj/; other transcoded base
    /// layers are in the layer cache; base layers reused as they are come from the base registry.
    /// </summary>
    private static BuiltImage ToBuiltImage(ImageParts parts, ImageIndexRequest request, RegistryClient baseRegistry, HandOffStore handOff, LayerCache cache)
    {
        var layers = parts.Parsed.Layers.Select((descriptor, i) =>
        {
            var digest = descriptor.Digest;
            // A layer cache blob's bytes are checked when the destination reads them, as on the
            // single-image path: a damaged one fails with ZSTDC5002 and is evicted, not kept to fail again.
            IBlobSource source = handOff.TryGetBlobPath(digest) is { } handedOff
                ? new FileBlobSource(handedOff)
                : cache.TryGetBlob(digest, descriptor.Size) as IBlobSource
                    ?? new RegistryBlobSource(baseRegistry, request.BaseImage.Repository, digest, descriptor.Size);
            return new ImageLayer(descriptor, parts.DiffIds[i], source, request.BaseImage);
        }).ToList();
        var configDigest = parts.Parsed.Config.Digest;
        return new BuiltImage(parts.Manifest, parts.Descriptor.Digest, parts.Descriptor.MediaType, parts.Config, configDigest, layers, parts.Descriptor.Platform!);
    }
}
