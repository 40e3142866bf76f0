using ZstdContainers.Registry;

namespace ZstdContainers.Destinations;

/// <summary>
/// A registry (the output registry): blobs first, then the manifest or index under every tag. The sink
/// owns the one client a publish opens on the target registry: the registry layer cache reads through
/// <see cref="Client"/> too, so the registry sees one /v2/ probe and one token exchange, not one per step.
/// Layers can be handed over while the image is still being built (<see cref="IEarlyBlobSink"/>).
/// </summary>
public sealed class RegistrySink(string registry, RegistryClientOptions options, IBuildLog log) : IEarlyBlobSink, IDisposable
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

    public BlobUploads BeginUploads(string repository, CancellationToken cancellationToken) =>
        new(new RegistryPusher(Client, repository, log), cancellationToken);

    public Task<ShipReport> ShipAsync(ImageSet images, CancellationToken cancellationToken) =>
        ShipCoreAsync(images, started: null, cancellationToken);

    public Task<ShipReport> ShipAsync(ImageSet images, BlobUploads started, CancellationToken cancellationToken) =>
        ShipCoreAsync(images, started, cancellationToken);

    private async Task<ShipReport> ShipCoreAsync(ImageSet images, BlobUploads? started, CancellationToken cancellationToken)
    {
        if (started is not null && (images.Images.Count != 1 || started.Repository != images.Repository))
        {
            throw new ArgumentException("Uploads started early belong to a single image pushed to their repository.", nameof(started));
        }
        var pusher = new RegistryPusher(Client, images.Repository, log);
        var shipped = new List<BlobShipment>();
        foreach (var image in images.Images)
        {
            // Image after image: a layer the images share is uploaded once and found by the next one.
            shipped.AddRange(started is null
                ? await pusher.PushBlobsAsync(image, cancellationToken).ConfigureAwait(false)
                : await pusher.PushBlobsAsync(image, started, cancellationToken).ConfigureAwait(false));
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
