using System.Text.Json.Nodes;
using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// The publishers end to end on the in-memory registry: base image resolved and transcoded, app
/// layer built, blobs and manifest pushed in order, and what a second publish does not repeat.
/// </summary>
public sealed class PublisherTests : IDisposable
{
    private const string Target = "apps/web";
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-publisher-").FullName;
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string CacheDirectory => Path.Combine(_root, "cache");

    private ImageRequest Request(FakeBaseImage baseImage, string? cacheDirectory = null, bool recompress = true, params string[] tags) =>
        BuildingTestKit.Request() with
        {
            BaseImage = baseImage.Reference,
            PublishDirectory = LayerTestData.MakeFolder(Path.Combine(_root, "publish")),
            Repository = Target,
            Tags = tags.Length == 0 ? ["1.0"] : tags,
            OutputRegistry = RegistryTestHelpers.Registry,
            Compression = new CompressionOptions { UseZstd = true, CacheDirectory = cacheDirectory ?? CacheDirectory, RecompressBaseLayers = recompress },
        };

    private async Task<ImagePublishResult> PublishAsync(ImageRequest request)
    {
        var options = RegistryTestHelpers.Options(_fake, _log);
        var sink = ImageSinks.For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRuntime, request.Repository, options, _log);
        return await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
    }

    [Fact]
    public async Task A_publish_transcodes_the_gzip_base_layers_and_pushes_blobs_before_the_manifest_under_every_tag()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);

        var result = await PublishAsync(Request(baseImage, tags: ["1.0", "latest"]));

        var manifest = OciJson.Deserialize<ImageManifest>(_fake.GetManifest(Target, "latest")!.Value.Content);
        Assert.Equal(result.Image.Manifest, _fake.GetManifest(Target, "1.0")!.Value.Content);
        Assert.Equal(3, manifest.Layers.Count);
        Assert.All(manifest.Layers, l => Assert.Equal(MediaTypes.OciLayerZstd, l.MediaType));
        Assert.All(manifest.Layers, l => Assert.True(_fake.HasBlob(Target, l.Digest)));
        var config = JsonNode.Parse(_fake.GetBlob(Target, manifest.Config.Digest))!;
        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Equal(baseImage.DiffIds.Select(d => d.Value), diffIds.Take(2));
        for (var i = 0; i < 2; i++)
        {
            // The zstd blob holds exactly the base layer's tar.
            Assert.Equal(baseImage.DiffIds[i], Digest.Of(LayerTestData.Unzstd(_fake.GetBlob(Target, manifest.Layers[i].Digest))));
        }
        Assert.Equal(new[] { RegistryTestHelpers.Registry + "/" + Target + ":1.0", RegistryTestHelpers.Registry + "/" + Target + ":latest" }, result.ImageNames);
        Assert.Equal(baseImage.Amd64ManifestDigest, result.BaseManifestDigest);

        var requests = _fake.Requests.ToList();
        var firstManifestPut = requests.FindIndex(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal));
        var lastBlobPut = requests.FindLastIndex(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/blobs/uploads/", StringComparison.Ordinal));
        Assert.True(lastBlobPut >= 0 && lastBlobPut < firstManifestPut, "every blob goes up before the first manifest");
        Assert.Contains(_log.Lines, l => l.StartsWith("info: Pushed registry.test/apps/web:1.0,latest", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_registry_publish_talks_to_the_target_repository_through_one_client_one_challenge_and_one_token()
    {
        _fake.Auth = FakeRegistry.AuthMode.Bearer;
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var environment = RegistryTestHelpers.Env(("DOTNET_CONTAINER_REGISTRY_UNAME", _fake.User), ("DOTNET_CONTAINER_REGISTRY_PWORD", _fake.Password));
        var options = RegistryTestHelpers.Options(_fake, _log, environment);
        var request = Request(baseImage, tags: ["1.0"]);
        using (var sink = new RegistrySink(RegistryTestHelpers.Registry, options, _log))
        {
            await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
        }

        // The registry cache lookup (GET of the tag being pushed) and the push share the sink's client:
        // one challenge (the first request, sent without a token) and one token for the target repository.
        Assert.NotNull(_fake.GetManifest(Target, "1.0"));
        Assert.Contains(_fake.Requests, r => r.Method == "GET" && r.Uri.AbsolutePath == $"/v2/{Target}/manifests/1.0");
        var targetTokens = _fake.TokenRequests.Where(r => Uri.UnescapeDataString(r.Uri.Query).Contains("repository:" + Target + ":", StringComparison.Ordinal)).ToList();
        Assert.Single(targetTokens);
        Assert.Single(_fake.Requests, r => r.Uri.AbsolutePath.StartsWith($"/v2/{Target}/", StringComparison.Ordinal) && r.Authorization is null);
    }

    [Fact]
    public async Task A_second_publish_with_the_same_cache_downloads_no_base_layer_and_uploads_only_the_config()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        await PublishAsync(Request(baseImage));
        _fake.Requests.Clear();

        var second = await PublishAsync(Request(baseImage, tags: ["2.0"]));

        var baseBlobGets = _fake.Requests.Where(r => r.Method == "GET" && baseImage.BlobDigests.Any(d => r.Uri.AbsolutePath.EndsWith(d.Value, StringComparison.Ordinal)));
        Assert.Empty(baseBlobGets);
        var uploads = _fake.Requests.Where(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/blobs/uploads/", StringComparison.Ordinal)).ToList();
        // The app layer is reproducible (same folder, same bytes), so only the config (its created time) is new.
        Assert.Single(uploads);
        Assert.Equal(second.Image.ConfigDigest.Value, uploads[0].Uri.Query.Split("digest=")[1].Replace("%3A", ":", StringComparison.Ordinal));

        // ... and the report says so, layer by layer, from what the push did
        var report = second.Report;
        Assert.Equal(["base", "base", "app"], report.Layers.Select(l => l.Origin));
        Assert.Equal(["from cache", "from cache", "built"], report.Layers.Select(l => l.Prepared));
        Assert.All(report.Layers, l => Assert.Equal("already present", l.Transfer));
        Assert.Equal("uploaded", report.Config.Transfer);
        Assert.Equal(second.Image.Config.Length, report.Totals.BytesSent);
        Assert.Equal(RegistryTestHelpers.Registry + "/" + Target + "@" + second.Image.ManifestDigest.Value, report.ImageByDigest);
    }

    [Fact]
    public async Task Base_layers_kept_as_they_are_are_mounted_from_the_base_repository_of_the_same_registry()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);

        var result = await PublishAsync(Request(baseImage, recompress: false));

        Assert.Equal(baseImage.BlobDigests, result.Image.Layers.Take(2).Select(l => l.Descriptor.Digest));
        var mounts = _fake.Requests.Where(r => r.Method == "POST" && r.Uri.Query.Contains("mount=", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, mounts.Count);
        Assert.Equal(["mounted", "mounted", "uploaded"], result.Report.Layers.Select(l => l.Transfer));
        Assert.Equal(["reused", "reused", "built"], result.Report.Layers.Select(l => l.Prepared));
        Assert.All(mounts, m => Assert.Contains("from=dotnet%2Faspnet", m.Uri.Query, StringComparison.Ordinal));
        Assert.All(baseImage.BlobDigests, d => Assert.True(_fake.HasBlob(Target, d)));
        Assert.DoesNotContain(_fake.Requests, r => r.Method == "GET" && r.Uri.AbsolutePath.Contains("/blobs/sha256:", StringComparison.Ordinal) && baseImage.BlobDigests.Any(d => r.Uri.AbsolutePath.EndsWith(d.Value, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_base_config_whose_diff_id_does_not_match_its_layer_fails_with_a_code_and_pushes_nothing()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root, diffIdOverride: BuildingTestKit.D('e'));

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => PublishAsync(Request(baseImage)));

        Assert.Equal(ErrorCodes.BaseLayerDiffIdMismatch, error.Code);
        Assert.Null(_fake.GetManifest(Target, "1.0"));
    }

    [Fact]
    public async Task The_index_publisher_pushes_an_index_of_the_per_rid_images_under_every_tag()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var image = (await PublishAsync(Request(baseImage, tags: ["tmp-amd64"]))).Image;
        var options = RegistryTestHelpers.Options(_fake, _log);
        var request = new ImageIndexRequest
        {
            Images = [new GeneratedImage(System.Text.Encoding.UTF8.GetString(image.Manifest), System.Text.Encoding.UTF8.GetString(image.Config), image.ManifestDigest.Value, image.ManifestMediaType)],
            BaseImage = baseImage.Reference,
            Repository = Target,
            Tags = ["3.0", "latest"],
            OutputRegistry = RegistryTestHelpers.Registry,
            Compression = new CompressionOptions { UseZstd = true, CacheDirectory = CacheDirectory },
        };
        var sink = new RegistrySink(RegistryTestHelpers.Registry, options, _log);

        var (index, archivePath) = await new ImageIndexPublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);

        Assert.Null(archivePath);
        foreach (var tag in new[] { "3.0", "latest" })
        {
            var stored = _fake.GetManifest(Target, tag)!.Value;
            Assert.Equal(MediaTypes.OciIndex, stored.MediaType);
            Assert.Equal(index.Content, stored.Content);
        }
        var parsed = OciJson.Deserialize<ImageIndex>(index.Content);
        Assert.Equal(image.ManifestDigest, Assert.Single(parsed.Manifests).Digest);
        Assert.Equal("amd64", parsed.Manifests[0].Platform!.Architecture);
    }

    [Fact]
    public async Task Several_rids_into_an_archive_with_a_temporary_cache_hand_every_blob_to_the_index_step_through_obj()
    {
        // The cache folder cannot be created (it would be below a file), so each step of the build
        // gets a temporary one that is gone when the step ends: the index step can find the per-RID
        // images' blobs only where they were handed off.
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var blocker = Path.Combine(_root, "not-a-folder");
        File.WriteAllText(blocker, "");
        var handOff = Path.Combine(_root, "obj", "zstdcontainers", "handoff");
        var compression = new CompressionOptions { UseZstd = true, CacheDirectory = Path.Combine(blocker, "cache"), HandOffDirectory = handOff };
        var archive = Path.Combine(_root, "out", "app.tar");
        var inner = Request(baseImage, tags: ["1.0"]) with { OutputRegistry = null, ArchiveOutputPath = archive, SkipPublishing = true, Compression = compression };
        var image = (await PublishAsync(inner)).Image;
        Assert.False(File.Exists(archive));
        _fake.Requests.Clear();

        var options = RegistryTestHelpers.Options(_fake, _log);
        var request = new ImageIndexRequest
        {
            Images = [new GeneratedImage(System.Text.Encoding.UTF8.GetString(image.Manifest), System.Text.Encoding.UTF8.GetString(image.Config), image.ManifestDigest.Value, image.ManifestMediaType)],
            BaseImage = baseImage.Reference,
            Repository = Target,
            Tags = ["1.0"],
            ArchiveOutputPath = archive,
            Compression = compression,
        };
        var sink = new ArchiveSink(archive);

        var (_, archivePath) = await new ImageIndexPublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);

        Assert.Equal(archive, archivePath);
        var manifest = OciJson.Deserialize<ImageManifest>(image.Manifest);
        var entries = ArchiveEntries(archive);
        Assert.All(manifest.Layers, l => Assert.Contains("blobs/sha256/" + l.Digest.Hex, entries));
        Assert.DoesNotContain(_fake.Requests, r => r.Uri.AbsolutePath.Contains("/blobs/", StringComparison.Ordinal)); // nothing asked of the base registry
        Assert.False(Directory.Exists(handOff)); // shipped, so cleared: nothing piles up in obj/
    }

    private static HashSet<string> ArchiveEntries(string archive)
    {
        using var reader = new System.Formats.Tar.TarReader(File.OpenRead(archive));
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (reader.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name);
        }
        return names;
    }

    private string FreshCache() => Path.Combine(_root, "cache-" + Guid.NewGuid().ToString("N"));

    private IEnumerable<FakeRegistry.Recorded> BaseBlobGets(FakeBaseImage baseImage) =>
        _fake.Requests.Where(r => r.Method == "GET" && baseImage.BlobDigests.Any(d => r.Uri.AbsolutePath.EndsWith(d.Value, StringComparison.Ordinal)));

    private IEnumerable<FakeRegistry.Recorded> BlobUploads =>
        _fake.Requests.Where(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/blobs/uploads/", StringComparison.Ordinal));

    [Fact]
    public async Task A_cold_cache_publish_takes_the_base_layers_from_the_previous_image_in_the_registry_and_neither_downloads_nor_uploads_them()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var first = await PublishAsync(Request(baseImage, cacheDirectory: FreshCache(), tags: ["1.0"]));
        _fake.Requests.Clear();

        // A fresh CI runner: empty local cache, the registry holds the previous push under the tag.
        var second = await PublishAsync(Request(baseImage, cacheDirectory: FreshCache(), tags: ["1.0"]));

        Assert.Empty(BaseBlobGets(baseImage));
        Assert.Equal(OciJson.Serialize(first.Image.Layers.Take(2).Select(l => l.Descriptor).ToList()), OciJson.Serialize(second.Image.Layers.Take(2).Select(l => l.Descriptor).ToList()));
        Assert.DoesNotContain(BlobUploads, r => first.Image.Layers.Take(2).Any(l => r.Uri.Query.Contains(l.Descriptor.Digest.Hex, StringComparison.Ordinal)));
        Assert.Contains(_log.Lines, l => l.Contains("zstd from the registry", StringComparison.Ordinal));
        // The app layer's tar is unchanged too: its blob is the previous push's, not compressed again.
        Assert.Equal(["from registry cache", "from registry cache", "from registry cache"], second.Report.Layers.Select(l => l.Prepared));
        Assert.Equal(["already present", "already present", "already present"], second.Report.Layers.Select(l => l.Transfer));
    }

    [Fact]
    public async Task ContainerLayerCacheFrom_in_another_repository_of_the_registry_gives_mounts_not_recompression()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var other = await PublishAsync(Request(baseImage, cacheDirectory: FreshCache()) with { Repository = "apps/cache" });
        _fake.Requests.Clear();

        var request = Request(baseImage, cacheDirectory: FreshCache());
        request = request with { Compression = request.Compression with { CacheFrom = [RegistryTestHelpers.Registry + "/apps/cache:1.0"] } };
        var result = await PublishAsync(request);

        Assert.Empty(BaseBlobGets(baseImage));
        Assert.Equal(other.Image.Layers.Take(2).Select(l => l.Descriptor.Digest), result.Image.Layers.Take(2).Select(l => l.Descriptor.Digest));
        var mounts = _fake.Requests.Where(r => r.Method == "POST" && r.Uri.Query.Contains("from=apps%2Fcache", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, mounts.Count); // the two base layers and the unchanged app layer
        Assert.All(result.Image.Layers, l => Assert.True(_fake.HasBlob(Target, l.Descriptor.Digest)));
        Assert.Equal(["mounted", "mounted", "mounted"], result.Report.Layers.Select(l => l.Transfer));
        Assert.All(result.Report.Layers, l => Assert.Equal("from registry cache", l.Prepared));
    }

    [Fact]
    public async Task A_candidate_the_registry_does_not_confirm_or_whose_config_does_not_pair_with_its_manifest_is_never_used()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        // An image under the tag whose config names the base layers' diff_ids for zstd blobs the
        // registry does not have; and one whose config lists more diff_ids than it has layers.
        PushClaim(Target, "1.0", baseImage.DiffIds, [FakeRegistry.RandomBytes(100, 1), FakeRegistry.RandomBytes(100, 2)], storeBlobs: false);
        PushClaim(Target, "lying", [.. baseImage.DiffIds, baseImage.DiffIds[0]], [FakeRegistry.RandomBytes(100, 3), FakeRegistry.RandomBytes(100, 4)], storeBlobs: true);
        var request = Request(baseImage, cacheDirectory: FreshCache(), tags: ["1.0"]);
        request = request with { Compression = request.Compression with { CacheFrom = ["apps/web:lying"] } };

        var result = await PublishAsync(request);

        Assert.NotEmpty(BaseBlobGets(baseImage)); // recompressed from the base image instead
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(baseImage.DiffIds[i], Digest.Of(LayerTestData.Unzstd(_fake.GetBlob(Target, result.Image.Layers[i].Descriptor.Digest))));
        }
        Assert.DoesNotContain(_log.Lines, l => l.Contains("zstd from the registry", StringComparison.Ordinal));
    }

    // An image whose config claims diffIds for the given zstd "blobs".
    private void PushClaim(string repository, string tag, IReadOnlyList<Digest> diffIds, IReadOnlyList<byte[]> blobs, bool storeBlobs)
    {
        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. diffIds.Select(d => (JsonNode?)JsonValue.Create(d.Value))]) },
        };
        var configBytes = OciJson.Serialize(config);
        _fake.AddBlob(repository, configBytes);
        if (storeBlobs)
        {
            foreach (var blob in blobs)
            {
                _fake.AddBlob(repository, blob);
            }
        }
        var manifest = OciJson.Serialize(new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Of(configBytes), Size = configBytes.Length },
            Layers = [.. blobs.Select(b => new Descriptor { MediaType = MediaTypes.OciLayerZstd, Digest = Digest.Of(b), Size = b.Length })],
        });
        _fake.AddManifest(repository, tag, manifest, MediaTypes.OciManifest);
    }
}
