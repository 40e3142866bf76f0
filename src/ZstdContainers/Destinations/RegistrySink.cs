using ZstdContainers.Registry;

namespace ZstdContainers.Destinations;

/// <summary>
/// A registry (ContainerRegistry): blobs first, then the manifest or index under every tag. The sink
/// owns the one client a publish opens on the target registry: the registry layer cache reads through
/// <see cref="Client"/> too, so the registry sees one /v2/ probe and one token exchange, not one per step.
/// </summary>
public sealed class RegistrySink(string registry, RegistryClientOptions options, IBuildLog log) : IImageSink, IDisposable
{
    private readonly Lazy<RegistryClient> _client = new(() => new RegistryClient(registry, RegistryAccess.Push, options));

    public string Registry { get; } = registry;

    /// <summary>The client on the target registry (push access), created on first use, disposed with the sink.</summary>
    public RegistryClient Client => _client.Value;

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
        var pusher = new RegistryPusher(Client, images.Repository, log);
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

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
