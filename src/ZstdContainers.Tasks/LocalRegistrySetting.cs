using ZstdContainers.Destinations;

namespace ZstdContainers.Tasks;

/// <summary>The SDK's LocalRegistry parameter, read into the core's <see cref="LocalRuntimeKind"/>.</summary>
internal static class LocalRegistrySetting
{
    /// <summary>
    /// "Docker" or "Podman" in any case; null for empty (detect one), or when the image goes to a
    /// registry or an archive (then LocalRegistry does not matter, as in the SDK).
    /// </summary>
    /// <exception cref="ZstdContainersException">ZSTDC1031 for runtimes newer SDKs know that we cannot load into; ZSTDC1010 for any other value.</exception>
    public static LocalRuntimeKind? Parse(string? localRegistry, string? outputRegistry, string? archiveOutputPath)
    {
        if (!string.IsNullOrWhiteSpace(outputRegistry) || !string.IsNullOrWhiteSpace(archiveOutputPath) || string.IsNullOrWhiteSpace(localRegistry))
        {
            return null;
        }
        var value = localRegistry.Trim();
        if (value.Equals("Wslc", StringComparison.OrdinalIgnoreCase) || value.Equals("MacOSContainer", StringComparison.OrdinalIgnoreCase))
        {
            // Known to newer SDKs (dotnet/sdk#55249).
            throw new ZstdContainersException(
                ErrorCodes.UnsupportedLocalRegistry,
                $"LocalRegistry is '{value}', a local container runtime ZstdContainers cannot load zstd images into (it loads into docker and podman). Set LocalRegistry to Docker or Podman, publish to a registry (ContainerRegistry) or an archive (ContainerArchiveOutputPath), or unset ContainerLayerCompression to let the SDK load a gzip image.");
        }
        if (value.Equals(nameof(LocalRuntimeKind.Docker), StringComparison.OrdinalIgnoreCase))
        {
            return LocalRuntimeKind.Docker;
        }
        if (value.Equals(nameof(LocalRuntimeKind.Podman), StringComparison.OrdinalIgnoreCase))
        {
            return LocalRuntimeKind.Podman;
        }
        throw new ZstdContainersException(
            ErrorCodes.InvalidLocalRegistry,
            $"LocalRegistry is '{localRegistry}', which is not a local container runtime this package knows. Use 'Docker' or 'Podman', or leave it empty to use docker when its daemon is running and podman otherwise.");
    }
}
