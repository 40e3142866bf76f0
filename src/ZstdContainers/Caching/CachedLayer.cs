using ZstdContainers.Layers;

namespace ZstdContainers.Caching;

/// <summary>
/// A transcoded base layer from the <see cref="LayerCache"/>: the blob (its file inside the cache)
/// and whether it was already there (<c>true</c>) or was created just now (<c>false</c>).
/// </summary>
/// <param name="DeferredCheck">For a hit: the check of the blob's bytes against its record, to run
/// when they are read (see <see cref="Oci.FileBlobSource.DeferredCheck"/>); null when they were just written.</param>
public sealed record CachedLayer(LayerBlob Blob, bool FromCache, Func<CancellationToken, Task>? DeferredCheck = null)
{
    /// <summary>Where a destination reads the blob, with the hit's check put off until then.</summary>
    public Oci.FileBlobSource Source => new(Blob.FilePath) { DeferredCheck = DeferredCheck };
}
