using System.Globalization;
using System.Text;
using ZstdContainers.Oci;

namespace ZstdContainers.Reporting;

/// <summary>
/// The report as Markdown for a CI job summary: the image pinned by its manifest digest, then one
/// table row per layer and a total.
/// </summary>
public static class PublishReportMarkdown
{
    public static string Render(PublishReport report)
    {
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"### ZstdContainers: {Code(report.Image)}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"{Capitalized(report.Destination)} {Code(report.ImageByDigest ?? report.Image + " " + report.ManifestDigest)}");
        md.Append(CultureInfo.InvariantCulture, $" ({report.Platform}, {report.Compression} level {report.Level}, base {Code(report.BaseImage)})");
        if (report.Names.Count > 1)
        {
            md.Append(CultureInfo.InvariantCulture, $", also tagged {string.Join(", ", report.Names.Skip(1).Select(Code))}");
        }
        md.Append(".\n\n");
        md.Append("| layer | digest | as pulled | as pushed | prepared | transfer | time |\n");
        md.Append("|---|---|---:|---:|---|---|---:|\n");
        foreach (var layer in report.Layers)
        {
            var pulled = layer.BytesPulled is { } p ? Sizes.Format(p) : "—";
            var time = layer.PrepareSeconds + layer.TransferSeconds;
            md.Append(CultureInfo.InvariantCulture,
                $"| {Escape(layer.Origin)} | `{Short(layer.Digest)}` | {pulled} | {Sizes.Format(layer.BytesPushed)} {Format(layer.MediaType)} | {layer.Prepared} | {layer.Transfer} | {Seconds(time)} |\n");
        }
        var t = report.Totals;
        md.Append(CultureInfo.InvariantCulture,
            $"| **total** ({t.Layers} layers + config) | `{Short(report.ManifestDigest)}` | {(t.BytesPulled > 0 ? Sizes.Format(t.BytesPulled) : "—")} | **{Sizes.Format(t.BytesPushed)}** | | {Sizes.Format(t.BytesSent)} sent | {Seconds(t.Seconds)} |\n");
        if (t.BytesPulled > 0)
        {
            var baseAfter = report.Layers.Where(l => l.BytesPulled is not null).Sum(l => l.BytesPushed);
            md.Append(CultureInfo.InvariantCulture,
                $"\nBase layers: {Sizes.Format(t.BytesPulled)} as pulled, {Sizes.Format(baseAfter)} in this image ({Percent(baseAfter, t.BytesPulled)}).\n");
        }
        return md.ToString();
    }

    private static string Code(string text) => "`" + text.Replace("`", "'", StringComparison.Ordinal) + "`";

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Capitalized(string word) => word.Length == 0 ? word : char.ToUpperInvariant(word[0]) + word[1..];

    private static string Short(string digest) => digest.Length > 19 ? digest[..19] : digest;

    private static string Seconds(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    private static string Percent(long part, long whole) =>
        (100.0 * part / whole).ToString("0", CultureInfo.InvariantCulture) + "%";

    private static string Format(string mediaType) => MediaTypes.LayerCompressionOf(mediaType) switch
    {
        LayerCompression.Zstd => "zstd",
        LayerCompression.Gzip => "gzip",
        LayerCompression.None => "tar",
        _ => string.Empty,
    };
}
