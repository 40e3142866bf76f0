using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

// Blobs by digest, for a multi-RID publish to an archive or the local daemon: each per-RID build
// makes its image but does not ship it, and the index task, a later step of the build, needs the
// bytes of every layer. Transcoded base layers are in the cache already; app layers are kept here.
public sealed partial class LayerCache
{
    /// <summary>Keeps a blob we produced under its digest and returns it at its new place.</summary>
    public async Task<LayerBlob> StoreBlobAsync(LayerBlob blob, CancellationToken ct)
    {
        var blobPath = Path.Combine(_blobs, blob.Digest.Hex);
        var temp = Path.Combine(_temp, $"{blob.Digest.Hex}.{Guid.NewGuid():N}.blob");
        try
        {
            // Copy, then rename: the source may be on another file system, and a reader must only
            // ever see a complete blob under its digest.
            File.Copy(blob.FilePath, temp);
        }
        catch
        {
            BlobFile.TryDelete(temp);
            throw;
        }
        return await PublishBlobAsync(temp, blobPath, blob, ct).ConfigureAwait(false)
            ? blob with { FilePath = blobPath }
            : blob with { FilePath = temp };
    }
}
