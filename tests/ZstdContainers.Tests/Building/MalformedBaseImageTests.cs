using System.Text;
using ZstdContainers.Building;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Tests.Registry;
using ZstdContainers.Tests.Tasks;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// Remote documents that are not what the spec says become ZSTDC6002 naming the image and the
/// field (issue 10 item 6), never an exception with a stack; and a failure nobody expected is one
/// ZSTDC6001 line, its stack only at detailed verbosity.
/// </summary>
public sealed class MalformedBaseImageTests
{
    private readonly FakeRegistry _fake = new();

    private async Task<ZstdContainersException> ResolveFails(string manifestJson, string? configJson = null)
    {
        var config = Encoding.UTF8.GetBytes(configJson ?? """{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""");
        _fake.AddBlob("base", config);
        var manifest = manifestJson.Replace("CONFIG", Digest.Of(config).Value).Replace("SIZE", config.Length.ToString());
        _fake.AddManifest("base", "1", Encoding.UTF8.GetBytes(manifest), MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(_fake));
        return await Assert.ThrowsAsync<ZstdContainersException>(() =>
            BaseImageResolver.ResolveAsync(client, new ImageReference(RegistryTestHelpers.Registry, "base", "1"), "linux-x64", CancellationToken.None));
    }

    private const string Manifest = """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"CONFIG","size":SIZE},"layers":LAYERS}""";

    [Fact]
    public async Task A_manifest_layer_digest_that_is_not_sha256_names_the_field()
    {
        var error = await ResolveFails(Manifest.Replace("LAYERS", """[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha512:abc","size":1}]"""));

        Assert.Equal("ZSTDC6002", error.Code);
        Assert.Contains("manifest of " + RegistryTestHelpers.Registry + "/base:1", error.Message);
        Assert.Contains("layers[0].digest", error.Message);
    }

    [Fact]
    public async Task A_manifest_that_is_not_json_is_a_coded_error()
    {
        var error = await ResolveFails("{not json");

        Assert.Equal("ZSTDC6002", error.Code);
    }

    [Fact]
    public async Task A_config_diff_id_that_is_not_sha256_names_its_index()
    {
        var error = await ResolveFails(Manifest.Replace("LAYERS", "[]"),
            """{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["md5:0123"]}}""");

        Assert.Equal("ZSTDC6002", error.Code);
        Assert.Contains("config of", error.Message);
        Assert.Contains("rootfs.diff_ids[0] is 'md5:0123'", error.Message);
    }

    [Theory]
    [InlineData("""{"architecture":5,"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""", "architecture is Number")]
    [InlineData("""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":{}}}""", "rootfs.diff_ids is not an array")]
    [InlineData("""{"architecture":"amd64","os":"linux"}""", "rootfs is missing")]
    [InlineData("""[1,2]""", "is not a JSON object")]
    public async Task A_config_field_of_the_wrong_json_type_names_the_field(string config, string expected)
    {
        var error = await ResolveFails(Manifest.Replace("LAYERS", "[]"), config);

        Assert.Equal("ZSTDC6002", error.Code);
        Assert.Contains(expected, error.Message);
    }

    private sealed class Exploding : ZstdContainers.Tasks.CoreTask
    {
        protected override Task RunAsync(IBuildLog log, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("Sequence contains no elements\n   at Somewhere.Deep()");
    }

    [Fact]
    public void An_unexpected_exception_is_one_coded_line_asking_for_a_report_with_the_stack_only_at_low_importance()
    {
        var engine = new FakeBuildEngine();

        Assert.False(new Exploding { BuildEngine = engine }.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("ZSTDC6001", error.Code);
        Assert.Contains("InvalidOperationException: Sequence contains no elements.", error.Message);
        Assert.Contains("please report it", error.Message);
        Assert.DoesNotContain("   at ", error.Message);
        var stack = Assert.Single(engine.Messages, m => m.Message!.Contains("   at "));
        Assert.Equal(Microsoft.Build.Framework.MessageImportance.Low, stack.Importance);
    }
}
