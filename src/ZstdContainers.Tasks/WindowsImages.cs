namespace ZstdContainers.Tasks;

/// <summary>
/// Windows container images are not something we build: their layers have another layout
/// (Files/ and Hives/) and their bases are gzip Windows images; zstd has no Windows runtime to
/// pull it either. Refused early rather than writing a Linux-layout layer onto a Windows base.
/// </summary>
internal static class WindowsImages
{
    public static void Refuse(string runtimeIdentifier, string runtimeIdentifiers = "")
    {
        var windows = runtimeIdentifiers.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Append(runtimeIdentifier.Trim())
            .FirstOrDefault(rid => rid.StartsWith("win", StringComparison.OrdinalIgnoreCase));
        if (windows is not null)
        {
            throw new ZstdContainersException(
                ErrorCodes.WindowsImageNotSupported,
                $"The container runtime identifier is '{windows}', a Windows image, and ZstdContainers builds Linux images only (Windows container runtimes do not pull zstd layers). Publish Windows images with the SDK's gzip layers: unset ContainerLayerCompression for this publish.");
        }
    }
}
