using System.Globalization;
using ZstdContainers.Building;
using ZstdContainers.Layers;

namespace ZstdContainers.Tasks;

/// <summary>
/// Our compression properties, parsed and checked in one place so the validation target and the
/// image task agree on what is allowed and on every message (which names the property to fix).
/// </summary>
internal static class CompressionSettings
{
    /// <param name="compression">ContainerLayerCompression: empty or gzip (the SDK's path), or zstd.</param>
    /// <param name="level">ContainerLayerCompressionLevel: empty (3) or 1–22.</param>
    /// <param name="recompressBaseLayers">ContainerRecompressBaseLayers: empty (true), true or false.</param>
    /// <param name="imageFormat">The SDK's ContainerImageFormat: with zstd, only empty or OCI.</param>
    public static CompressionOptions Parse(string? compression, string? level, string? recompressBaseLayers, string? imageFormat = null)
    {
        var kind = (compression ?? string.Empty).Trim();
        var chunked = kind.Equals("zstd:chunked", StringComparison.OrdinalIgnoreCase);
        var useZstd = chunked || kind.Equals("zstd", StringComparison.OrdinalIgnoreCase);
        if (!useZstd && kind.Length > 0 && !kind.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidCompression,
                $"ContainerLayerCompression is '{compression}', which ZstdContainers does not know. Allowed values: 'zstd' (zstd layers, OCI image), 'zstd:chunked' (zstd layers that podman and CRI-O can pull file by file) or 'gzip' (the SDK's own gzip layers, the default).");
        }

        if (!TryParseLevel(level, out var parsedLevel))
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidCompressionLevel,
                $"ContainerLayerCompressionLevel is '{level}', but it must be a whole number from {ZstdSettings.MinLevel} to {ZstdSettings.MaxLevel} (zstd levels; default {ZstdSettings.DefaultLevel}, 19 for the smallest images at a slower publish).");
        }

        var recompress = (recompressBaseLayers ?? string.Empty).Trim();
        bool parsedRecompress;
        if (recompress.Length == 0)
        {
            parsedRecompress = true;
        }
        else if (!bool.TryParse(recompress, out parsedRecompress))
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidRecompressSetting,
                $"ContainerRecompressBaseLayers is '{recompressBaseLayers}', but it must be 'true' (gzip base layers become zstd, the default) or 'false' (base layers are kept as they are).");
        }

        if (useZstd && string.Equals(imageFormat?.Trim(), "Docker", StringComparison.OrdinalIgnoreCase))
        {
            throw new ZstdContainersException(
                ErrorCodes.DockerImageFormatWithZstd,
                "ContainerImageFormat is 'Docker', but zstd layers exist only in the OCI image format: Docker v2 manifests with zstd layers are non-standard and strict clients refuse them. Remove ContainerImageFormat (zstd images are always OCI) or set it to 'OCI'.");
        }

        return new CompressionOptions { UseZstd = useZstd, Chunked = chunked, Level = parsedLevel, RecompressBaseLayers = parsedRecompress };
    }

    /// <summary>
    /// A zstd level written as text. Empty means the default; anything else must be a whole
    /// number from 1 to 22.
    /// </summary>
    public static bool TryParseLevel(string? text, out int level)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            level = ZstdSettings.DefaultLevel;
            return true;
        }
        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out level)
            && level is >= ZstdSettings.MinLevel and <= ZstdSettings.MaxLevel;
    }
}
