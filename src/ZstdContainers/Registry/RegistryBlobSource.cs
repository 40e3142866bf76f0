using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>A blob read from a registry on demand (a base layer reused as it is), never past its descriptor's size.</summary>
public sealed class RegistryBlobSource(RegistryClient registry, string repository, Digest digest, long size) : IBlobSource
{
    public Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        registry.OpenBlobAsync(repository, digest, size, cancellationToken);
}
