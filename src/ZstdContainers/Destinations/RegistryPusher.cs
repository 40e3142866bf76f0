using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Destinations;

/// <summary>How many of an image's blobs (layers and config) had to be uploaded, and their bytes.</summary>
public readonly record struct UploadTally(int UploadedBlobs, int TotalBlobs, long UploadedBytes)
{
    public static UploadTally operator +(UploadTally a, UploadTally b) =>
        new(a.UploadedBlobs + b.UploadedBlobs, a.TotalBlobs + b.TotalBlobs, a.UploadedBytes + b.UploadedBytes);
}

/// <summary>
/// Pushes images to a registry in the order that never leaves a tag on an incomplete image:
/// every blob first (skipped when the registry has it, mounted when it lives in another
/// repository of the same registry, uploaded otherwise), then the manifest under each tag.
/// </summary>
public sealed class RegistryPusher(RegistryClient registry, string repository, IBuildLog log)
{
    private const int MaxParallelBlobs = 3;

    /// <summary>Ships every blob of the image; returns what was actually uploaded.</summary>
    public async Task<UploadTally> PushBlobsAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        long uploaded = 0;
        var uploadedBlobs = 0;
        using var gate = new SemaphoreSlim(MaxParallelBlobs);
        var pushes = image.Layers.Select(async layer =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var sent = await PushLayerAsync(layer, cancellationToken).ConfigureAwait(false);
                if (sent > 0)
                {
                    Interlocked.Add(ref uploaded, sent);
                    Interlocked.Increment(ref uploadedBlobs);
                }
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(pushes).ConfigureAwait(false);

        if (!await registry.BlobExistsAsync(repository, image.ConfigDigest, cancellationToken).ConfigureAwait(false))
        {
            await registry.UploadBlobAsync(repository, image.ConfigDigest, image.Config.Length, () => new MemoryStream(image.Config, writable: false), cancellationToken).ConfigureAwait(false);
            uploaded += image.Config.Length;
            uploadedBlobs++;
        }
        return new UploadTally(uploadedBlobs, image.Layers.Count + 1, uploaded);
    }

    /// <summary>The last step: the manifest (or index) under every tag.</summary>
    public async Task PushManifestAsync(byte[] manifest, string mediaType, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        foreach (var tag in tags)
        {
            await registry.PutManifestAsync(repository, tag, manifest, mediaType, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<long> PushLayerAsync(ImageLayer layer, CancellationToken cancellationToken)
    {
        var digest = layer.Descriptor.Digest;
        if (await registry.BlobExistsAsync(repository, digest, cancellationToken).ConfigureAwait(false))
        {
            log.Detail($"{digest}: already in {registry.Registry}/{repository}, not uploaded");
            return 0;
        }
        if (layer.SourceRepository is { } from
            && string.Equals(from.Registry, registry.Registry, StringComparison.OrdinalIgnoreCase)
            && await registry.TryMountBlobAsync(repository, digest, from.Repository, cancellationToken).ConfigureAwait(false))
        {
            log.Detail($"{digest}: mounted from {from.Repository}");
            return 0;
        }

        // A blob that lives elsewhere (a reused base layer on another registry) is staged on disk
        // first: the upload may need to start over, and memory stays bounded either way.
        var staged = layer.Source as FileBlobSource;
        string? tempFile = null;
        try
        {
            if (staged is null)
            {
                tempFile = Path.Combine(Path.GetTempPath(), "zstdcontainers-" + digest.Hex[..16] + "-" + Guid.NewGuid().ToString("N")[..8]);
                var input = await layer.Source.OpenAsync(cancellationToken).ConfigureAwait(false);
                await using (input.ConfigureAwait(false))
                {
                    var output = File.Create(tempFile);
                    await using (output.ConfigureAwait(false))
                    {
                        await input.CopyToAsync(output, 1 << 20, cancellationToken).ConfigureAwait(false);
                    }
                }
                staged = new FileBlobSource(tempFile);
            }
            var path = staged.Path;
            await registry.UploadBlobAsync(
                repository,
                digest,
                layer.Descriptor.Size,
                () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan),
                cancellationToken).ConfigureAwait(false);
            log.Detail($"{digest}: uploaded {layer.Descriptor.Size} bytes");
            return layer.Descriptor.Size;
        }
        finally
        {
            if (tempFile is not null)
            {
                File.Delete(tempFile);
            }
        }
    }
}
