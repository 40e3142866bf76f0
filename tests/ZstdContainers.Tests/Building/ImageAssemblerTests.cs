using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ZstdContainers.Building;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Building;

/// <summary>ImageAssembler: the config and OCI manifest bytes and their digests.</summary>
public sealed class ImageAssemblerTests
{
    private sealed class NoBlob : IBlobSource
    {
        public Task<Stream> OpenAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("not read by the assembler");
    }

    private static readonly Platform Arm64 = new() { Os = "linux", Architecture = "arm64", Variant = "v8" };

    private static ImageLayer Layer(char hex, long size, string mediaType, IReadOnlyList<string>? urls = null) =>
        new(
            new Descriptor { MediaType = mediaType, Digest = Digest.Parse("sha256:" + new string(hex, 64)), Size = size, Urls = urls },
            Digest.Parse("sha256:" + new string((char)(hex + 1), 64)),
            new NoBlob());

    private static JsonObject Config() => JsonNode.Parse(
        """{"config":{"Labels":{"t":"a+b <c> & 'd' é"},"Env":["A=1"]},"created":"2026-01-01T00:00:00.0000000Z","rootfs":{"type":"layers","diff_ids":[]},"architecture":"arm64","os":"linux","history":[]}""")!.AsObject();

    private static readonly ImageLayer[] Layers =
    [
        Layer('1', 100, MediaTypes.OciLayerZstd),
        Layer('3', 200, MediaTypes.OciLayerGzip, ["https://example.test/blob"]),
        Layer('a', 300, MediaTypes.OciLayerZstd),
    ];

    [Fact]
    public void Config_bytes_are_the_compact_relaxed_json_and_its_digest_and_size_match()
    {
        var config = Config();

        var image = ImageAssembler.Assemble(config, Layers, Arm64);

        Assert.Equal(config.ToJsonString(OciJson.Options), Encoding.UTF8.GetString(image.Config));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(image.Config)), image.ConfigDigest.Value);
        Assert.DoesNotContain("\\u002B", Encoding.UTF8.GetString(image.Config));
        Assert.Contains("\"t\":\"a+b <c> & 'd' é\"", Encoding.UTF8.GetString(image.Config));
    }

    [Fact]
    public void Manifest_is_the_exact_OCI_manifest_with_layers_in_order()
    {
        var image = ImageAssembler.Assemble(Config(), Layers, Arm64);

        Assert.Equal(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," +
            $"\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{image.ConfigDigest}\",\"size\":{image.Config.Length}}}," +
            "\"layers\":[" +
                $"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:{new string('1', 64)}\",\"size\":100}}," +
                $"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:{new string('3', 64)}\",\"size\":200,\"urls\":[\"https://example.test/blob\"]}}," +
                $"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:{new string('a', 64)}\",\"size\":300}}]}}",
            Encoding.UTF8.GetString(image.Manifest));
    }

    [Fact]
    public void Manifest_digest_is_sha256_of_the_manifest_bytes_and_media_type_is_OCI()
    {
        var image = ImageAssembler.Assemble(Config(), Layers, Arm64);

        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(image.Manifest)), image.ManifestDigest.Value);
        Assert.Equal(MediaTypes.OciManifest, image.ManifestMediaType);
        Assert.Equal(MediaTypes.OciManifest, OciJson.PeekMediaType(image.Manifest));
    }

    [Fact]
    public void Manifest_config_descriptor_matches_the_config_bytes()
    {
        var image = ImageAssembler.Assemble(Config(), Layers, Arm64);

        var manifest = OciJson.Deserialize<ImageManifest>(image.Manifest);
        Assert.Equal(2, manifest.SchemaVersion);
        Assert.Equal(MediaTypes.OciConfig, manifest.Config.MediaType);
        Assert.Equal(image.ConfigDigest, manifest.Config.Digest);
        Assert.Equal(image.Config.Length, manifest.Config.Size);
        Assert.Null(manifest.Annotations);
        Assert.Equal(Layers.Select(l => l.Descriptor), manifest.Layers, (x, y) => x.MediaType == y.MediaType && x.Digest == y.Digest && x.Size == y.Size);
    }

    [Fact]
    public void Built_image_keeps_layers_platform_and_descriptors()
    {
        var image = ImageAssembler.Assemble(Config(), Layers, Arm64);

        Assert.Equal(Layers, image.Layers);
        Assert.Equal(Arm64, image.Platform);
        Assert.Equal(
            $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{image.ManifestDigest}\",\"size\":{image.Manifest.Length},\"platform\":{{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}}}",
            Encoding.UTF8.GetString(OciJson.Serialize(image.ManifestDescriptor)));
        Assert.Equal(
            $"{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{image.ConfigDigest}\",\"size\":{image.Config.Length}}}",
            Encoding.UTF8.GetString(OciJson.Serialize(image.ConfigDescriptor)));
    }

    [Fact]
    public void Same_config_and_layers_give_the_same_digests()
    {
        var first = ImageAssembler.Assemble(Config(), Layers, Arm64);
        var second = ImageAssembler.Assemble(Config(), Layers, Arm64);

        Assert.Equal(first.Manifest, second.Manifest);
        Assert.Equal(first.ManifestDigest, second.ManifestDigest);
        Assert.Equal(first.Config, second.Config);
    }

    [Fact]
    public void Manifest_with_no_layers_has_an_empty_layers_array()
    {
        var image = ImageAssembler.Assemble(Config(), [], Arm64);

        using var doc = JsonDocument.Parse(image.Manifest);
        Assert.Equal(0, doc.RootElement.GetProperty("layers").GetArrayLength());
    }
}
