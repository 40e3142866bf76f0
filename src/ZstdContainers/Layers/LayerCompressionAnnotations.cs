using System.Globalization;
using ZstdContainers.Layers.ZstdChunked;
using ZstdContainers.Oci;

namespace ZstdContainers.Layers;

/// <summary>
/// How we compressed a layer, recorded in its manifest descriptor (format and zstd level). The blob's
/// media type says only "zstd": a plain zstd blob and a zstd:chunked one share it, and nothing in the
/// bytes names the level. The registry layer cache reads these annotations back and takes a blob only
/// when it was written exactly as this publish would write it, so raising a level, or switching to or
/// from zstd:chunked, compresses afresh instead of keeping the old blobs.
/// </summary>
public static class LayerCompressionAnnotations
{
    /// <summary>"zstd" or "zstd:chunked" (<see cref="ZstdSettings.FormatName"/>).</summary>
    public const string Format = "io.github.zstdcontainers.compression";

    /// <summary>The zstd level, as a decimal number.</summary>
    public const string Level = "io.github.zstdcontainers.compression-level";

    /// <summary>The descriptor with our two annotations added to any it has (zstd:chunked's), sorted by name
    /// so the manifest bytes never depend on the order they were added in.</summary>
    public static Descriptor Stamp(Descriptor descriptor, ZstdSettings settings)
    {
        var annotations = Sorted(descriptor.Annotations);
        annotations[Format] = settings.FormatName;
        annotations[Level] = LevelText(settings.Level);
        return descriptor with { Annotations = annotations };
    }

    /// <summary>
    /// True when the descriptor says its blob was written with these settings: same format and level
    /// and, for zstd:chunked, the annotations that locate its table of contents. A descriptor without
    /// our annotations (an older ZstdContainers, another tool's zstd) is never taken as a match.
    /// </summary>
    public static bool WrittenWith(Descriptor descriptor, ZstdSettings settings) =>
        descriptor.Annotations is { } annotations
        && annotations.TryGetValue(Format, out var format) && format == settings.FormatName
        && annotations.TryGetValue(Level, out var level) && level == LevelText(settings.Level)
        && ZstdChunkedBlobWriter.IsChunked(descriptor) == settings.Chunked;

    /// <summary>A copy sorted ordinally (empty for none), for descriptors read back from a registry.</summary>
    public static SortedDictionary<string, string> Sorted(IReadOnlyDictionary<string, string>? annotations)
    {
        var sorted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in annotations ?? new Dictionary<string, string>())
        {
            sorted[name] = value;
        }
        return sorted;
    }

    private static string LevelText(int level) => level.ToString(CultureInfo.InvariantCulture);
}
