using ZstdContainers.Registry;

namespace ZstdContainers.Destinations;

/// <summary>A registry (ContainerRegistry): blobs first, then the manifest or index under every tag.</summary>
public sealed class RegistrySink(string registry, RegistryClientOptions options, IBuildLog log) : IImageSink
{
    public string Registry { get; } = registry;

    public string Verb => "Pushed";

    public string Describe(string repository, IReadOnlyList<string> tags) =>
        $"{Registry}/{repository}:{string.Join(",", ImageSinks.Distinct(tags))}";

    public IReadOnlyList<string> ImageNames(string repository, IReadOnlyList<string> tags) =>
        [.. ImageSinks.Names(repository, tags).Select(name => Registry + "/" + name)];

    public void CheckWritable()
    {
    }

    public async Task<ShipReport> ShipAsync(ImageSet images, CancellationToken cancellationToken)
    {
        using var client = new RegistryClient(Registry, RegistryAccess.Push, options);
        var pusher = new RegistryPusher(client, images.Repository, log);
        var shipped = new List<BlobShipment>();
        foreach (var image in images.Images)
        {
            shipped.AddRange(await pusher.PushBlobsAsync(image, cancellationToken).ConfigureAwait(false));
        }
        var tally = UploadTally.Of(shipped);
        log.Info($"  uploaded {tally.UploadedBlobs} of {tally.TotalBlobs} blobs ({Sizes.Format(tally.UploadedBytes)}) to {Registry}/{images.Repository}; {tally.TotalBlobs - tally.UploadedBlobs} were there already");
        var (manifest, mediaType) = images.Index is { } index
            ? (index.Content, index.MediaType)
            : (images.Images.Single().Manifest, images.Images.Single().ManifestMediaType);
        await pusher.PushManifestAsync(manifest, mediaType, images.DistinctTags(), cancellationToken).ConfigureAwait(false);
        return new ShipReport(shipped);
    }
}
