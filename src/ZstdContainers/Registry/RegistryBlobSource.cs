using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>A blob read from a registry on demand (a base layer reused as it is).</summary>
public sealed class RegistryBlobSource(RegistryClient registry, string repository, Digest digest) : IBlobSource
{
    public Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        registry.OpenBlobAsync(repository, digest, cancellationToken);
}
