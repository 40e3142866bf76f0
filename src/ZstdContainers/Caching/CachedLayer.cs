using ZstdContainers.Layers;

namespace ZstdContainers.Caching;

/// <summary>
/// A transcoded base layer from the <see cref="LayerCache"/>: the blob (its file inside the cache)
/// and whether it was already there (<c>true</c>) or was created just now (<c>false</c>).
/// </summary>
public sealed record CachedLayer(LayerBlob Blob, bool FromCache);
