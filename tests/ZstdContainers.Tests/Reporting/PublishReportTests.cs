using System.Text.Json.Nodes;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Reporting;
using ZstdContainers.Tests.Destinations;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Reporting;

public sealed class PublishReportTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-report-").FullName;
    private readonly CapturingLog _log = new();
    private readonly ImageLayer _transcoded = TestImages.Layer("transcoded base layer");
    private readonly ImageLayer _cached = TestImages.Layer("cached base layer");
    private readonly ImageLayer _app = TestImages.Layer("app layer");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private BuiltImage Image => TestImages.Image(TestImages.Amd64, [_transcoded, _cached, _app]);

    private PublishFacts Facts(BuiltImage image, ShipReport shipped, params string[] names) => new()
    {
        Image = image,
        Layers =
        [
            new LayerProvenance("base", LayerPreparation.Transcoded, 1000, null, TimeSpan.FromSeconds(2)),
            new LayerProvenance("base", LayerPreparation.FromCache, 500, null, TimeSpan.FromSeconds(0.25)),
            new LayerProvenance("app", LayerPreparation.Built, null, 4096, TimeSpan.FromSeconds(0.5)),
        ],
        Shipped = shipped,
        Verb = "Pushed",
        Names = names.Length == 0 ? ["registry.test:5000/apps/web:1.0", "registry.test:5000/apps/web:latest"] : names,
        NamesAreRegistryReferences = true,
        BaseImage = new ImageReference("registry.test:5000", "dotnet/aspnet", "10.0"),
        BaseManifestDigest = Digest.Of("base manifest"u8),
        Compression = "zstd",
        Level = 3,
        Tool = "ZstdContainers 9.9.9",
        Elapsed = TimeSpan.FromSeconds(3.5),
    };

    private ShipReport Shipped(BuiltImage image) => new(
    [
        new BlobShipment(_transcoded.Descriptor.Digest, _transcoded.Descriptor.Size, BlobTransfer.Uploaded, TimeSpan.FromSeconds(1)),
        new BlobShipment(_cached.Descriptor.Digest, _cached.Descriptor.Size, BlobTransfer.Mounted, TimeSpan.FromSeconds(0.1)),
        new BlobShipment(_app.Descriptor.Digest, _app.Descriptor.Size, BlobTransfer.AlreadyPresent, TimeSpan.FromSeconds(0.05)),
        new BlobShipment(image.ConfigDigest, image.Config.Length, BlobTransfer.Uploaded, TimeSpan.FromSeconds(0.01)),
    ]);

    [Fact]
    public void The_json_is_what_reflection_based_serialization_with_the_same_options_writes()
    {
        // The report's JSON metadata is source-generated (start-up cost); the file must not change for it.
        var report = PublishReportBuilder.Build(Facts(Image, Shipped(Image)));
        var reflection = new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };

        var json = PublishReportOutput.ToJson(report);

        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(report, reflection), json);
        Assert.Contains("\"schemaVersion\": 1", json, StringComparison.Ordinal);
        Assert.Contains("\"layers\": [", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_layer_says_where_it_came_from_what_was_done_and_what_was_sent_and_the_totals_add_up()
    {
        var image = Image;

        var report = PublishReportBuilder.Build(Facts(image, Shipped(image)));

        Assert.Equal(["base", "base", "app"], report.Layers.Select(l => l.Origin));
        Assert.Equal(["transcoded", "from cache", "built"], report.Layers.Select(l => l.Prepared));
        Assert.Equal(["uploaded", "mounted", "already present"], report.Layers.Select(l => l.Transfer));
        Assert.Equal(image.Layers.Select(l => l.Descriptor.Digest.Value), report.Layers.Select(l => l.Digest));
        Assert.Equal(image.Layers.Select(l => l.DiffId.Value), report.Layers.Select(l => l.DiffId));
        Assert.Equal([1000L, 500L, null], report.Layers.Select(l => l.BytesPulled));
        Assert.Equal(4096, report.Layers[2].TarBytes);
        Assert.Equal([_transcoded.Descriptor.Size, 0, 0], report.Layers.Select(l => l.BytesSent));
        Assert.Equal(3.0, report.Layers[0].PrepareSeconds + report.Layers[0].TransferSeconds);
        Assert.Equal(1500, report.Totals.BytesPulled);
        Assert.Equal(image.Layers.Sum(l => l.Descriptor.Size) + image.Config.Length, report.Totals.BytesPushed);
        Assert.Equal(_transcoded.Descriptor.Size + image.Config.Length, report.Totals.BytesSent);
        Assert.Equal(new BlobReport(image.ConfigDigest.Value, image.Config.Length, "uploaded"), report.Config);
        Assert.Equal("registry.test:5000/apps/web:1.0", report.Image);
        Assert.Equal("registry.test:5000/apps/web@" + image.ManifestDigest.Value, report.ImageByDigest);
        Assert.Equal("pushed", report.Destination);
        Assert.Equal("linux/amd64", report.Platform);
    }

    [Fact]
    public void An_image_not_shipped_yet_says_so_and_sent_nothing()
    {
        var image = Image;

        var report = PublishReportBuilder.Build(Facts(image, ShipReport.Empty) with { Verb = "Built", NamesAreRegistryReferences = false });

        Assert.All(report.Layers, l => Assert.Equal("not shipped", l.Transfer));
        Assert.Equal(0, report.Totals.BytesSent);
        Assert.Null(report.ImageByDigest);
    }

    [Theory]
    [InlineData("registry.test:5000/apps/web:1.0", "registry.test:5000/apps/web")]
    [InlineData("registry.test:5000/apps/web", "registry.test:5000/apps/web")]
    [InlineData("web:latest", "web")]
    public void A_tag_is_what_follows_the_last_colon_after_the_last_slash(string name, string expected) =>
        Assert.Equal(expected, PublishReportBuilder.WithoutTag(name));

    [Fact]
    public void The_markdown_pins_the_image_by_digest_and_has_one_row_per_layer_and_a_total()
    {
        var image = Image;
        var report = PublishReportBuilder.Build(Facts(image, Shipped(image)));

        var md = PublishReportMarkdown.Render(report);

        Assert.Contains($"`registry.test:5000/apps/web@{image.ManifestDigest.Value}`", md);
        Assert.Contains("also tagged `registry.test:5000/apps/web:latest`", md);
        var rows = md.Split('\n').Where(l => l.StartsWith('|')).ToList();
        Assert.Equal(2 + 3 + 1, rows.Count); // header, rule, layers, total
        Assert.StartsWith("| base | `" + image.Layers[0].Descriptor.Digest.Value[..19] + "` | 1.0 kB | ", rows[2]);
        Assert.Contains("| transcoded | uploaded | 3.00 s |", rows[2]);
        Assert.Contains("| app |", rows[4]);
        Assert.Contains("| — |", rows[4]); // nothing pulled for a layer built here
        Assert.StartsWith("| **total** (3 layers + config)", rows[5]);
    }

    [Fact]
    public void The_json_file_goes_beside_the_publish_folder_and_reads_back_as_written()
    {
        var image = Image;
        var report = PublishReportBuilder.Build(Facts(image, Shipped(image)));
        var publish = Directory.CreateDirectory(Path.Combine(_root, "bin", "publish")).FullName + "/";

        var path = PublishReportOutput.Write(report, PublishReportOutput.DirectoryFor(publish), new Dictionary<string, string?>(), _log);

        Assert.Equal(Path.Combine(_root, "bin", PublishReportOutput.JsonFileName), path);
        Assert.Empty(Directory.GetFiles(publish));
        var json = JsonNode.Parse(File.ReadAllText(path!))!;
        Assert.Equal(image.ManifestDigest.Value, json["manifestDigest"]!.GetValue<string>());
        Assert.Equal("from cache", json["layers"]![1]!["prepared"]!.GetValue<string>());
        Assert.Equal(report.Totals.BytesSent, json["totals"]!["bytesSent"]!.GetValue<long>());
        Assert.True(File.Exists(Path.Combine(_root, "bin", PublishReportOutput.MarkdownFileName)));
        Assert.Contains(_log.Lines, l => l.Contains("publish report: " + path, StringComparison.Ordinal));
        Assert.DoesNotContain(_log.Lines, l => l.Contains("##vso", StringComparison.Ordinal));
    }

    [Fact]
    public void In_github_actions_the_markdown_is_appended_to_the_job_summary()
    {
        var image = Image;
        var report = PublishReportBuilder.Build(Facts(image, Shipped(image)));
        var summary = Path.Combine(_root, "step_summary.md");
        File.WriteAllText(summary, "earlier step\n");

        PublishReportOutput.Write(report, _root, new Dictionary<string, string?> { ["GITHUB_STEP_SUMMARY"] = summary }, _log);

        var text = File.ReadAllText(summary);
        Assert.StartsWith("earlier step\n", text);
        Assert.Contains(PublishReportMarkdown.Render(report), text);
    }

    [Fact]
    public void In_azure_devops_the_markdown_file_is_uploaded_with_a_logging_command()
    {
        var image = Image;
        var report = PublishReportBuilder.Build(Facts(image, Shipped(image)));

        PublishReportOutput.Write(report, _root, new Dictionary<string, string?> { ["TF_BUILD"] = "True" }, _log);

        var md = Path.Combine(_root, PublishReportOutput.MarkdownFileName);
        Assert.Contains("info: ##vso[task.uploadsummary]" + md, _log.Lines);
        Assert.Equal(PublishReportMarkdown.Render(report), File.ReadAllText(md));
    }

    [Fact]
    public void A_report_that_cannot_be_written_is_a_coded_warning_not_a_failure()
    {
        var image = Image;
        var report = PublishReportBuilder.Build(Facts(image, Shipped(image)));
        var blocker = Path.Combine(_root, "a-file");
        File.WriteAllText(blocker, "not a folder");

        var path = PublishReportOutput.Write(report, Path.Combine(blocker, "sub"), new Dictionary<string, string?>(), _log);

        Assert.Null(path);
        Assert.Contains(_log.Lines, l => l.StartsWith("warning " + ErrorCodes.ReportNotWritten, StringComparison.Ordinal) && l.Contains("The image was published", StringComparison.Ordinal));
    }
}
