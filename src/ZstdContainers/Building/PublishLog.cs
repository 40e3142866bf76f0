using System.Globalization;
using ZstdContainers.Layers;
using ZstdContainers.Layers.ZstdChunked;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>The lines a publish prints: one per layer at normal verbosity, then the summary.</summary>
internal static class PublishLog
{
    public static void Layers(IBuildLog log, IReadOnlyList<BaseLayerOutcome> baseLayers, LayerBlob app, TimeSpan appElapsed)
    {
        foreach (var outcome in baseLayers)
        {
            var d = outcome.Layer.Descriptor;
            log.Info($"  base layer {Short(d.Digest)}: {Sizes.Format(outcome.SourceSize)} {ShortType(outcome.SourceMediaType)} -> {Sizes.Format(d.Size)} {LayerFormat(d)} ({Ratio(d.Size, outcome.SourceSize)}), {outcome.Action}, {Sizes.Seconds(outcome.Elapsed)}");
        }
        log.Info($"  app layer {Short(app.Descriptor.Digest)}: {Sizes.Format(app.TarSize)} tar -> {Sizes.Format(app.Size)} {LayerFormat(app.Descriptor)} ({Ratio(app.Size, app.TarSize)}), {Sizes.Seconds(appElapsed)}");
    }

    public static void Summary(IBuildLog log, string verb, string where, BuiltImage image, IReadOnlyList<BaseLayerOutcome> baseLayers, LayerBlob app, TimeSpan elapsed)
    {
        var baseBefore = baseLayers.Sum(l => l.SourceSize);
        var baseAfter = baseLayers.Sum(l => l.Layer.Descriptor.Size);
        var saved = baseBefore - baseAfter;
        log.Summary(
            $"{verb} {where} ({image.ManifestDigest}): {image.Layers.Count} layers, {Sizes.Format(baseAfter + app.Size)} "
            + $"(base layers {Sizes.Format(baseBefore)} as pulled -> {Sizes.Format(baseAfter)}, {(saved >= 0 ? "saved" : "grew by")} {Sizes.Format(Math.Abs(saved))}) in {Sizes.Seconds(elapsed)}.");
    }

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
