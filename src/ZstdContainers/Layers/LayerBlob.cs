using ZstdContainers.Oci;

namespace ZstdContainers.Layers;

/// <summary>
/// A layer ready to ship: the compressed blob on disk, its descriptor (digest, size, media type)
/// and the diff_id (sha256 of the uncompressed tar) the image config lists for it.
/// </summary>
public sealed record LayerBlob(string FilePath, Descriptor Descriptor, Digest DiffId, long TarSize)
{
    public long Size => Descriptor.Size;

    public Digest Digest => Descriptor.Digest;
}
