using System.Globalization;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Layers.ZstdChunked;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>The lines a publish prints: one per layer at normal verbosity, then the summary.</summary>
internal static class PublishLog
{
    public static void Layers(IBuildLog log, IReadOnlyList<BaseLayerOutcome> baseLayers, IReadOnlyList<AppLayerBuild> appLayers)
    {
        foreach (var outcome in baseLayers)
        {
            var d = outcome.Layer.Descriptor;
            log.Info($"  base layer {Short(d.Digest)}: {Sizes.Format(outcome.SourceSize)} {ShortType(outcome.SourceMediaType)} -> {Sizes.Format(d.Size)} {LayerFormat(d)} ({Ratio(d.Size, outcome.SourceSize)}), {outcome.Action}, {Sizes.Seconds(outcome.Elapsed)}");
        }
        foreach (var app in appLayers)
        {
            var part = app.Part;
            var d = app.Layer.Descriptor;
            var holds = appLayers.Count > 1 ? $" ({part.Description})" : string.Empty;
            var unchanged = app.DiffIdFromRecord ? "files unchanged since the last publish (recognised from obj/ record, not re-read)" : "tar unchanged";
            var how = app.ReusedFrom is { } foundIn ? $"{unchanged}, zstd from the registry ({foundIn}), not recompressed, " : string.Empty;
            log.Info($"  {LayerTitle(part, appLayers.Count)} {Short(d.Digest)}: {Sizes.Format(app.TarSize)} tar -> {Sizes.Format(d.Size)} {LayerFormat(d)} ({Ratio(d.Size, app.TarSize)}), {how}{Sizes.Seconds(app.Elapsed)}{holds}");
        }
    }

    /// <param name="shipped">What the sink did with each blob; empty when the image was only built.</param>
    public static void Summary(IBuildLog log, string verb, string where, BuiltImage image, IReadOnlyList<BaseLayerOutcome> baseLayers, IReadOnlyList<AppLayerBuild> appLayers, ShipReport shipped, TimeSpan elapsed)
    {
        string Fate(Digest digest) => shipped.Find(digest) is { } blob ? " " + Transfer(blob.Transfer) : string.Empty;
        var baseFates = baseLayers.Select(l => shipped.Find(l.Layer.Descriptor.Digest)).OfType<BlobShipment>()
            .GroupBy(b => b.Transfer).OrderBy(g => g.Key).Select(g => $"{g.Count()} {Transfer(g.Key)}").ToList();
        var baseFate = baseFates.Count > 0 ? $" ({string.Join(", ", baseFates)})" : string.Empty;
        var appSize = appLayers.Sum(l => l.Layer.Descriptor.Size);
        var baseBefore = baseLayers.Sum(l => l.SourceSize);
        var baseAfter = baseLayers.Sum(l => l.Layer.Descriptor.Size);
        var saved = baseBefore - baseAfter;
        log.Summary(
            $"{verb} {where} ({image.ManifestDigest}): {image.Layers.Count} layers, {Sizes.Format(baseAfter + appSize)} "
            + $"(base layers {Sizes.Format(baseBefore)} as pulled -> {Sizes.Format(baseAfter)}, {(saved >= 0 ? "saved" : "grew by")} {Sizes.Format(Math.Abs(saved))}{baseFate}; "
            + $"app layers {string.Join(", ", appLayers.Select(l => $"{l.Part.Name} {Sizes.Format(l.Layer.Descriptor.Size)}{Fate(l.Layer.Descriptor.Digest)}"))}) in {Sizes.Seconds(elapsed)}.");
    }

    private static string Transfer(BlobTransfer transfer) => transfer switch
    {
        BlobTransfer.Uploaded => "uploaded",
        BlobTransfer.AlreadyPresent => "already there",
        BlobTransfer.Mounted => "mounted",
        BlobTransfer.ReusedFromRegistryCache => "reused",
        BlobTransfer.Written => "written",
        _ => transfer.ToString(),
    };

    /// <summary>"app layer" for the single layer of an unsplit publish, "app layer 'packages'" for one of several.</summary>
    private static string LayerTitle(AppLayerPart part, int count) => count == 1 && part.Name == LayerPartitioner.AppLayer ? "app layer" : $"app layer '{part.Name}'";

    private static string Short(Digest digest) => digest.Value[..19];

    private static string LayerFormat(Descriptor layer) =>
        ZstdChunkedBlobWriter.IsChunked(layer) ? "zstd:chunked" : ShortType(layer.MediaType);

    private static string ShortType(string mediaType) => MediaTypes.LayerCompressionOf(mediaType) switch
    {
        LayerCompression.Zstd => "zstd",
        LayerCompression.Gzip => "gzip",
        LayerCompression.None => "tar",
        _ => mediaType,
    };

    private static string Ratio(long after, long before) =>
        before == 0 ? "-" : (100.0 * after / before).ToString("0", CultureInfo.InvariantCulture) + "%";
}
