using System.Diagnostics;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Destinations;

/// <summary>How many of an image's blobs (layers and config) had to be uploaded, and their bytes.</summary>
public readonly record struct UploadTally(int UploadedBlobs, int TotalBlobs, long UploadedBytes)
{
    public static UploadTally Of(IEnumerable<BlobShipment> shipments)
    {
        var list = shipments as IReadOnlyCollection<BlobShipment> ?? [.. shipments];
        return new(list.Count(b => b.Transfer == BlobTransfer.Uploaded), list.Count, list.Sum(b => b.SentBytes));
    }
}

/// <summary>
/// Pushes images to a registry in the order that never leaves a tag on an incomplete image:
/// every blob first (skipped when the registry has it, mounted when it lives in another
/// repository of the same registry, uploaded otherwise), then the manifest under each tag.
/// </summary>
public sealed class RegistryPusher(RegistryClient registry, string repository, IBuildLog log)
{
    /// <summary>The repository the pusher ships to.</summary>
    public string Repository => repository;

    /// <summary>
    /// Ships every blob of the image; returns what happened to each (its layers in order, then
    /// the config).
    /// </summary>
    public async Task<IReadOnlyList<BlobShipment>> PushBlobsAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        var uploads = new BlobUploads(this, cancellationToken);
        await using (uploads.ConfigureAwait(false))
        {
            return await PushBlobsAsync(image, uploads, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ships every blob of the image through <paramref name="uploads"/>, which may have started some
    /// of its layers already; the config goes up once every layer is in place.
    /// </summary>
    public async Task<IReadOnlyList<BlobShipment>> PushBlobsAsync(BuiltImage image, BlobUploads uploads, CancellationToken cancellationToken)
    {
        var shipped = new List<BlobShipment>(await uploads.ShipAllAsync(image.Layers).ConfigureAwait(false));

        var configClock = Stopwatch.StartNew();
        var configTransfer = BlobTransfer.AlreadyPresent;
        if (!await registry.BlobExistsAsync(repository, image.ConfigDigest, cancellationToken).ConfigureAwait(false))
        {
            await registry.UploadBlobAsync(repository, image.ConfigDigest, image.Config.Length, () => new MemoryStream(image.Config, writable: false), cancellationToken).ConfigureAwait(false);
            configTransfer = BlobTransfer.Uploaded;
        }
        shipped.Add(new BlobShipment(image.ConfigDigest, image.Config.Length, configTransfer, configClock.Elapsed));
        return shipped;
    }

    /// <summary>
    /// The last step: the manifest (or index) under every tag, one PUT per tag in the order given (a registry has
    /// no multi-tag transaction). A failure or cancellation after the first tag moved is ZSTDC3013, naming the
    /// tags that moved and those that did not.
    /// </summary>
    public async Task PushManifestAsync(byte[] manifest, string mediaType, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        for (var i = 0; i < tags.Count; i++)
        {
            try
            {
                if (i > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                await registry.PutManifestAsync(repository, tags[i], manifest, mediaType, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (i > 0 && ex is ZstdContainersException or OperationCanceledException)
            {
                var why = ex is ZstdContainersException coded ? $"{coded.Code}: {coded.Message}" : "the build was cancelled";
                throw new ZstdContainersException(
                    ErrorCodes.TagsPartiallyMoved,
                    $"{registry.Registry}/{repository}: tags {Join(tags.Take(i))} now point to the new image, tags {Join(tags.Skip(i))} do not " +
                    $"(tags are moved one at a time; {why}). Publish again to move the rest, or move them back by hand.",
                    ex);
            }
        }
    }

    private bool OnThisRegistry(ImageReference reference) =>
        string.Equals(reference.Registry, registry.Registry, StringComparison.OrdinalIgnoreCase);

    private static string Join(IEnumerable<string> tags) => string.Join(", ", tags.Select(t => "'" + t + "'"));

    internal async Task<BlobTransfer> PushLayerAsync(ImageLayer layer, CancellationToken cancellationToken)
    {
        var digest = layer.Descriptor.Digest;
        if (layer is { SeenInSource: true, SourceRepository: { } seen } && OnThisRegistry(seen) && seen.Repository == repository)
        {
            // The registry layer cache confirmed it here moments ago: one HEAD per layer is enough.
            log.Detail($"{digest}: already in {registry.Registry}/{repository} (confirmed by the layer cache lookup), not uploaded");
            return BlobTransfer.AlreadyPresent;
        }
        if (await registry.BlobExistsAsync(repository, digest, cancellationToken).ConfigureAwait(false))
        {
            log.Detail($"{digest}: already in {registry.Registry}/{repository}, not uploaded");
            return BlobTransfer.AlreadyPresent;
        }
        if (layer.SourceRepository is { } from
            && OnThisRegistry(from)
            && await registry.TryMountBlobAsync(repository, digest, from.Repository, cancellationToken).ConfigureAwait(false))
        {
            log.Detail($"{digest}: mounted from {from.Repository}");
            return BlobTransfer.Mounted;
        }

        // A blob that lives elsewhere (a reused base layer on another registry) is staged on disk
        // first: the upload may need to start over, and memory stays bounded either way. The copy
        // is private (StagedBlob): it may be a layer of a private base image.
        if (layer.Source is FileBlobSource file)
        {
            var path = file.Path;
            await file.EnsureIntactAsync(cancellationToken).ConfigureAwait(false);
            await registry.UploadBlobAsync(
                repository,
                digest,
                layer.Descriptor.Size,
                () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan),
                cancellationToken).ConfigureAwait(false);
        }
        else
        {
            StagedBlob staged;
            var input = await layer.Source.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (input.ConfigureAwait(false))
            {
                staged = await StagedBlob.CopyAsync(input, cancellationToken).ConfigureAwait(false);
            }
            using (staged)
            {
                await registry.UploadBlobAsync(repository, digest, layer.Descriptor.Size, staged.OpenRead, cancellationToken).ConfigureAwait(false);
            }
        }
        log.Detail($"{digest}: uploaded {layer.Descriptor.Size} bytes");
        return BlobTransfer.Uploaded;
    }
}
