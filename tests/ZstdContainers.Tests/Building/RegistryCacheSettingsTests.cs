using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Layers.ZstdChunked;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// The registry layer cache takes a blob only when it was written as this publish would write it:
/// same format (zstd or zstd:chunked) and level, as the layer's annotations in the earlier manifest
/// say. Every publish here starts with an empty local cache (a fresh CI runner).
/// </summary>
public sealed class RegistryCacheSettingsTests : IDisposable
{
    private const string Target = "apps/web";
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-cache-settings-").FullName;
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();
    private readonly FakeBaseImage _base;

    public RegistryCacheSettingsTests() => _base = FakeBaseImage.Push(_fake, _root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task<ImagePublishResult> PublishAsync(int baseLevel = 3, int level = 3, bool chunked = false, string tag = "1.0", params string[] cacheFrom)
    {
        var request = BuildingTestKit.Request() with
        {
            BaseImage = _base.Reference,
            PublishDirectory = LayerTestData.MakeFolder(Path.Combine(_root, "publish")),
            Repository = Target,
            Tags = [tag],
            OutputRegistry = RegistryTestHelpers.Registry,
            Compression = new CompressionOptions
            {
                UseZstd = true,
                Chunked = chunked,
                Level = level,
                BaseLevel = baseLevel,
                CacheDirectory = Path.Combine(_root, "cache-" + Guid.NewGuid().ToString("N")),
                CacheFrom = cacheFrom,
            },
        };
        var options = RegistryTestHelpers.Options(_fake, _log);
        using var sink = new RegistrySink(RegistryTestHelpers.Registry, options, _log);
        return await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
    }

    private int BaseBlobGets() =>
        _fake.Requests.Count(r => r.Method == "GET" && _base.BlobDigests.Any(d => r.Uri.AbsolutePath.EndsWith(d.Value, StringComparison.Ordinal)));

    private static IReadOnlyDictionary<string, string> Annotations(ImagePublishResult result, int layer) =>
        OciJson.Deserialize<ImageManifest>(result.Image.Manifest).Layers[layer].Annotations!;

    [Fact]
    public async Task Every_layer_we_compress_names_its_format_and_level_in_the_manifest()
    {
        var result = await PublishAsync(baseLevel: 5, level: 2);

        Assert.Equal(["zstd", "zstd", "zstd"], Enumerable.Range(0, 3).Select(i => Annotations(result, i)[LayerCompressionAnnotations.Format]));
        Assert.Equal(["5", "5", "2"], Enumerable.Range(0, 3).Select(i => Annotations(result, i)[LayerCompressionAnnotations.Level]));
        // Written in name order, so the manifest bytes are the same whatever added them first.
        var text = System.Text.Encoding.UTF8.GetString(result.Image.Manifest);
        Assert.True(text.IndexOf(LayerCompressionAnnotations.Format + "\"", StringComparison.Ordinal) < text.IndexOf(LayerCompressionAnnotations.Level, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_base_level_recompresses_the_base_layers_and_the_same_level_reuses_them()
    {
        var first = await PublishAsync(baseLevel: 3);
        _fake.Requests.Clear();

        var harder = await PublishAsync(baseLevel: 6);

        Assert.Equal(2, BaseBlobGets()); // both base layers downloaded and recompressed
        Assert.Equal(["transcoded", "transcoded", "from registry cache"], harder.Report.Layers.Select(l => l.Prepared));
        Assert.All(harder.Image.Layers.Take(2), l => Assert.Equal("6", l.Descriptor.Annotations![LayerCompressionAnnotations.Level]));
        Assert.NotEqual(first.Image.Layers[0].Descriptor.Digest, harder.Image.Layers[0].Descriptor.Digest);
        _fake.Requests.Clear();

        var again = await PublishAsync(baseLevel: 6);

        Assert.Equal(0, BaseBlobGets());
        Assert.Equal(["from registry cache", "from registry cache", "from registry cache"], again.Report.Layers.Select(l => l.Prepared));
        Assert.Equal(OciJson.Serialize(harder.Image.Layers.Select(l => l.Descriptor).ToList()), OciJson.Serialize(again.Image.Layers.Select(l => l.Descriptor).ToList()));
    }

    [Fact]
    public async Task A_layer_the_cache_lookup_confirmed_in_the_target_repository_is_asked_about_once()
    {
        await PublishAsync();
        _fake.Requests.Clear();

        var again = await PublishAsync();

        Assert.All(again.Report.Layers, l => Assert.Equal("from registry cache", l.Prepared));
        foreach (var layer in again.Image.Layers)
        {
            var heads = _fake.Requests.Count(r => r.Method == "HEAD" && r.Uri.AbsolutePath == $"/v2/{Target}/blobs/{layer.Descriptor.Digest}");
            Assert.Equal(1, heads);
        }
        Assert.All(again.Shipped.Blobs.Take(again.Image.Layers.Count), b => Assert.Equal(BlobTransfer.AlreadyPresent, b.Transfer));
    }

    [Fact]
    public async Task Another_app_level_compresses_the_app_layer_again()
    {
        await PublishAsync(level: 3);

        var result = await PublishAsync(level: 4);

        Assert.Equal(["from registry cache", "from registry cache", "built"], result.Report.Layers.Select(l => l.Prepared));
        Assert.Equal("4", Annotations(result, 2)[LayerCompressionAnnotations.Level]);
    }

    [Fact]
    public async Task Plain_zstd_and_zstd_chunked_blobs_are_never_taken_for_each_other()
    {
        await PublishAsync();

        var chunked = await PublishAsync(chunked: true);

        Assert.Equal(["transcoded", "transcoded", "built"], chunked.Report.Layers.Select(l => l.Prepared));
        Assert.All(chunked.Image.Layers, l => Assert.Equal("zstd:chunked", l.Descriptor.Annotations![LayerCompressionAnnotations.Format]));
        Assert.All(chunked.Image.Layers, l => Assert.True(ZstdChunkedBlobWriter.IsChunked(l.Descriptor)));

        var chunkedAgain = await PublishAsync(chunked: true);
        Assert.All(chunkedAgain.Report.Layers, l => Assert.Equal("from registry cache", l.Prepared));
        // the same blobs, and the table of contents' annotations came along
        Assert.Equal(OciJson.Serialize(chunked.Image.Layers.Select(l => l.Descriptor).ToList()), OciJson.Serialize(chunkedAgain.Image.Layers.Select(l => l.Descriptor).ToList()));

        var plain = await PublishAsync();
        Assert.Equal(["transcoded", "transcoded", "built"], plain.Report.Layers.Select(l => l.Prepared));
        Assert.All(plain.Image.Layers, l => Assert.False(ZstdChunkedBlobWriter.IsChunked(l.Descriptor)));
    }

    [Fact]
    public async Task A_layer_without_our_annotations_is_not_reused_even_when_its_diff_id_matches()
    {
        // The image an older version pushed: the same blobs and config, no compression annotations.
        var first = await PublishAsync(tag: "annotated");
        var manifest = OciJson.Deserialize<ImageManifest>(first.Image.Manifest);
        var bare = manifest with { Layers = [.. manifest.Layers.Select(l => l with { Annotations = null })] };
        _fake.AddManifest(Target, "old", OciJson.Serialize(bare), MediaTypes.OciManifest);
        _fake.Requests.Clear();

        var result = await PublishAsync(tag: "old");

        Assert.Equal(2, BaseBlobGets());
        Assert.Equal(["transcoded", "transcoded", "built"], result.Report.Layers.Select(l => l.Prepared));
        Assert.Contains(_log.Lines, l => l.Contains("but not written as zstd level 3", StringComparison.Ordinal));
    }
}
