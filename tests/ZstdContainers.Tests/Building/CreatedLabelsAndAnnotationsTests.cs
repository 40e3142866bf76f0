using System.Text.Json.Nodes;
using ZstdContainers.Building;
using ZstdContainers.Oci;
using static ZstdContainers.Tests.Building.BuildingTestKit;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// The creation labels and annotations (issue 10): SDK 10's targets pass the creation labels with
/// the build time, the .NET 11 targets ask the task to generate them; with SOURCE_DATE_EPOCH set
/// both must carry the epoch so the image is reproducible.
/// </summary>
public sealed class CreatedLabelsAndAnnotationsTests
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1700000000);
    private const string EpochText = "2023-11-14T22:13:20.0000000Z";
    private readonly RecordingBuildLog _log = new();

    private static JsonObject Base() => JsonNode.Parse(
        """{"architecture":"amd64","os":"linux","config":{"Labels":{"org.opencontainers.image.created":"base-time"}},"rootfs":{"type":"layers","diff_ids":[]}}""")!.AsObject();

    private Dictionary<string, string> Labels(ImageRequest request) =>
        ContainerConfigComposer.Compose(Base(), request, D('c'), [D('d')], Epoch, "test", _log)["config"]!["Labels"]!.AsObject()
            .ToDictionary(l => l.Key, l => l.Value!.GetValue<string>());

    [Fact]
    public void With_an_epoch_the_build_time_creation_labels_of_SDK_10_get_the_epoch()
    {
        var labels = Labels(Request() with
        {
            GenerateLabels = true,
            SourceDateEpoch = "1700000000",
            Labels = [Pair("org.opencontainers.image.created", "2026-12-05T21:00:00.1234567Z"), Pair("org.opencontainers.artifact.created", "2026-12-05T21:00:00.1234567Z"), Pair("x", "y")],
        });

        Assert.Equal(EpochText, labels["org.opencontainers.image.created"]);
        Assert.Equal(EpochText, labels["org.opencontainers.artifact.created"]);
        Assert.Equal("y", labels["x"]);
    }

    [Fact]
    public void Without_an_epoch_the_callers_creation_labels_are_kept()
    {
        var labels = Labels(Request() with { GenerateLabels = true, Labels = [Pair("org.opencontainers.image.created", "2026-12-05T21:00:00Z")] });

        Assert.Equal("2026-12-05T21:00:00Z", labels["org.opencontainers.image.created"]);
    }

    [Fact]
    public void GenerateCreatedLabels_adds_both_labels_with_the_creation_time()
    {
        var labels = Labels(Request() with { GenerateLabels = true, GenerateCreatedLabels = true });

        Assert.Equal(EpochText, labels["org.opencontainers.image.created"]);
        Assert.Equal(EpochText, labels["org.opencontainers.artifact.created"]);
    }

    [Fact]
    public void GenerateCreatedLabels_does_nothing_when_labels_are_off_and_the_base_label_stays()
    {
        var labels = Labels(Request() with { GenerateLabels = false, GenerateCreatedLabels = true, SourceDateEpoch = "1700000000" });

        Assert.Equal("base-time", labels["org.opencontainers.image.created"]);
        Assert.False(labels.ContainsKey("org.opencontainers.artifact.created"));
    }

    [Fact]
    public void Annotations_are_sorted_and_empty_created_and_base_digest_values_are_filled_in()
    {
        var resolved = ImageAnnotations.Resolve(
            [Pair("z.custom", "1"), Pair("org.opencontainers.image.created", ""), Pair("org.opencontainers.image.base.digest", ""), Pair("a.custom", "2"), Pair("z.custom", "3")],
            Epoch, D('b'));

        Assert.Equal(
            ["a.custom=2", $"org.opencontainers.image.base.digest={D('b')}", $"org.opencontainers.image.created={EpochText}", "z.custom=3"],
            resolved!.Select(a => a.Key + "=" + a.Value));
    }

    [Fact]
    public void No_annotations_leave_the_manifest_without_the_field()
    {
        Assert.Null(ImageAnnotations.Resolve([], Epoch, null));
        var config = JsonNode.Parse("""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""")!.AsObject();
        var plain = ImageAssembler.Assemble(config, [], new Platform { Os = "linux", Architecture = "amd64" });
        Assert.DoesNotContain("annotations", System.Text.Encoding.UTF8.GetString(plain.Manifest));

        var annotated = ImageAssembler.Assemble(config, [], new Platform { Os = "linux", Architecture = "amd64" },
            ImageAnnotations.Resolve([Pair("k", "v")], Epoch, null));
        Assert.EndsWith("""],"annotations":{"k":"v"}}""", System.Text.Encoding.UTF8.GetString(annotated.Manifest));
    }
}
