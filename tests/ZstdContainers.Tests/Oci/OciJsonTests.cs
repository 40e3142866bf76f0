using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Oci;

/// <summary>OciJson: compact, relaxed escaping ('+' and HTML characters kept literal), strict on empty documents.</summary>
public sealed class OciJsonTests
{
    private const string Hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void Media_types_keep_plus_literal()
    {
        var json = Encoding.UTF8.GetString(OciJson.Serialize(new Descriptor
        {
            MediaType = MediaTypes.OciLayerZstd,
            Digest = Digest.Parse("sha256:" + Hex64),
            Size = 5,
        }));

        Assert.Equal($"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:{Hex64}\",\"size\":5}}", json);
        Assert.DoesNotContain("\\u002B", json);
    }

    [Fact]
    public void Manifest_serialises_compact_with_plus_literal_and_without_null_annotations()
    {
        var manifest = new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Parse("sha256:" + Hex64), Size = 2 },
            Layers = [],
        };

        Assert.Equal(
            $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:{Hex64}\",\"size\":2}},\"layers\":[]}}",
            Encoding.UTF8.GetString(OciJson.Serialize(manifest)));
    }

    [Fact]
    public void Json_nodes_written_with_the_options_keep_plus_and_html_characters_but_escape_quotes_and_backslashes()
    {
        var node = new JsonObject { ["k+<>&'"] = "v+<>&' \"q\" \\ é" };

        Assert.Equal("{\"k+<>&'\":\"v+<>&' \\\"q\\\" \\\\ é\"}", node.ToJsonString(OciJson.Options));
    }

    [Fact]
    public void Deserialize_reads_what_Serialize_wrote()
    {
        var index = new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Parse("sha256:" + Hex64), Size = 2 },
            Layers = [new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Parse("sha256:" + Hex64), Size = 7, Urls = ["u"] }],
            Annotations = new Dictionary<string, string> { ["a"] = "b" },
        };

        var back = OciJson.Deserialize<ImageManifest>(OciJson.Serialize(index));

        Assert.Equal(OciJson.Serialize(index), OciJson.Serialize(back));
    }

    [Fact]
    public void Deserialize_of_a_json_null_throws_JsonException()
    {
        var e = Assert.Throws<JsonException>(() => OciJson.Deserialize<ImageManifest>("null"u8));

        Assert.Equal("The document is empty where a ImageManifest was expected.", e.Message);
    }

    [Theory]
    [InlineData("\"sha512:abc\"")]
    [InlineData("\"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"")]
    [InlineData("5")]
    public void A_descriptor_whose_digest_is_not_sha256_is_a_JsonException_naming_it(string digestJson)
    {
        var json = Encoding.UTF8.GetBytes($"{{\"mediaType\":\"x\",\"digest\":{digestJson},\"size\":1}}");

        var e = Assert.Throws<JsonException>(() => OciJson.Deserialize<Descriptor>(json));

        Assert.Contains("is not a sha256 digest", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PeekMediaType_reads_the_top_level_mediaType_only()
    {
        Assert.Equal(MediaTypes.OciIndex, OciJson.PeekMediaType("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"""u8));
        Assert.Equal(MediaTypes.DockerManifest, OciJson.PeekMediaType("""{"mediaType":"application/vnd.docker.distribution.manifest.v2\u002Bjson"}"""u8));
        Assert.Null(OciJson.PeekMediaType("""{"schemaVersion":2,"config":{"mediaType":"x"}}"""u8));
        Assert.Null(OciJson.PeekMediaType("""{"mediaType":5}"""u8));
        Assert.Null(OciJson.PeekMediaType("""[{"mediaType":"x"}]"""u8));
    }

    [Theory]
    [InlineData(MediaTypes.OciIndex, true, false)]
    [InlineData(MediaTypes.DockerManifestList, true, false)]
    [InlineData(MediaTypes.OciManifest, false, true)]
    [InlineData(MediaTypes.DockerManifest, false, true)]
    [InlineData(MediaTypes.OciConfig, false, false)]
    public void Index_and_manifest_media_types(string mediaType, bool isIndex, bool isManifest)
    {
        Assert.Equal(isIndex, MediaTypes.IsIndex(mediaType));
        Assert.Equal(isManifest, MediaTypes.IsImageManifest(mediaType));
    }

    [Theory]
    [InlineData(MediaTypes.OciLayerZstd, LayerCompression.Zstd)]
    [InlineData(MediaTypes.OciLayerGzip, LayerCompression.Gzip)]
    [InlineData(MediaTypes.DockerLayerGzip, LayerCompression.Gzip)]
    [InlineData(MediaTypes.DockerForeignLayerGzip, LayerCompression.Gzip)]
    [InlineData(MediaTypes.OciLayerTar, LayerCompression.None)]
    [InlineData(MediaTypes.DockerLayerTar, LayerCompression.None)]
    [InlineData("application/vnd.oci.image.layer.v1.tar+bz2", LayerCompression.Unknown)]
    public void Layer_compression_by_media_type(string mediaType, LayerCompression expected)
    {
        Assert.Equal(expected, MediaTypes.LayerCompressionOf(mediaType));
    }
}
