using System.Formats.Tar;
using System.Text.Json.Nodes;
using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// A publish folder split into layers by origin, end to end on the in-memory registry: one blob
/// per layer in order, history saying what each holds, a code change re-uploading only the app
/// layer, and a per-RID image handing every layer to the index step.
/// </summary>
public sealed class SplitPublishTests : IDisposable
{
    private const string Target = "apps/split";

    private const string Deps = """
        {
          "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-x64" },
          "targets": {
            ".NETCoreApp,Version=v10.0/linux-x64": {
              "MyApp/1.0.0": { "runtime": { "MyApp.dll": {} } },
              "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.0": { "runtime": { "System.Private.CoreLib.dll": {} }, "native": { "libcoreclr.so": {} } },
              "Humanizer.Core/2.14.1": { "runtime": { "lib/net6.0/Humanizer.dll": {} } }
            }
          },
          "libraries": {
            "MyApp/1.0.0": { "type": "project" },
            "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.0": { "type": "runtimepack" },
            "Humanizer.Core/2.14.1": { "type": "package" }
          }
        }
        """;

    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-split-").FullName;
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Publish => Path.Combine(_root, "publish");

    private string MakePublishFolder(string appText = "app v1")
    {
        Directory.CreateDirectory(Publish);
        File.WriteAllText(Path.Combine(Publish, "MyApp.deps.json"), Deps);
        File.WriteAllText(Path.Combine(Publish, "MyApp.dll"), appText);
        File.WriteAllBytes(Path.Combine(Publish, "System.Private.CoreLib.dll"), LayerTestData.Text(400_000, seed: 1));
        File.WriteAllBytes(Path.Combine(Publish, "libcoreclr.so"), LayerTestData.Text(300_000, seed: 2));
        File.WriteAllBytes(Path.Combine(Publish, "Humanizer.dll"), LayerTestData.Text(200_000, seed: 3));
        return Publish;
    }

    private ImageRequest Request(FakeBaseImage baseImage, LayerSplitOptions split, bool skipPublishing = false, string? archive = null) =>
        BuildingTestKit.Request() with
        {
            BaseImage = baseImage.Reference,
            PublishDirectory = Publish,
            Repository = Target,
            Tags = ["1.0"],
            OutputRegistry = archive is null ? RegistryTestHelpers.Registry : null,
            ArchiveOutputPath = archive,
            SkipPublishing = skipPublishing,
            Compression = new CompressionOptions { UseZstd = true, CacheDirectory = Path.Combine(_root, "cache") },
            LayerSplit = split,
            AppCommand = ["dotnet", "/app/MyApp.dll"],
        };

    /// <summary>Digests of the blobs uploaded since the requests were last cleared (the closing PUT of each upload).</summary>
    private List<string> UploadedDigests() => _fake.Requests
        .Where(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/blobs/uploads/", StringComparison.Ordinal))
        .Select(r => Uri.UnescapeDataString(r.Uri.Query.Split("digest=")[1]))
        .ToList();

    private async Task<ImagePublishResult> PublishAsync(ImageRequest request)
    {
        var options = RegistryTestHelpers.Options(_fake, _log);
        var sink = ImageSinks.For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRuntime, request.Repository, options, _log);
        return await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
    }

    private static List<string> FileNames(byte[] zstdBlob)
    {
        using var reader = new TarReader(new MemoryStream(LayerTestData.Unzstd(zstdBlob)));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType != TarEntryType.Directory)
            {
                names.Add(entry.Name);
            }
        }
        return names;
    }

    [Fact]
    public async Task A_split_publish_pushes_one_layer_per_origin_bottom_to_top_with_history_saying_what_each_holds()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();

        var result = await PublishAsync(Request(baseImage, new LayerSplitOptions()));

        var manifest = OciJson.Deserialize<ImageManifest>(_fake.GetManifest(Target, "1.0")!.Value.Content);
        Assert.Equal(2 + 3, manifest.Layers.Count);
        var app = manifest.Layers.Skip(2).Select(l => FileNames(_fake.GetBlob(Target, l.Digest))).ToList();
        Assert.Equal(["app/System.Private.CoreLib.dll", "app/libcoreclr.so"], app[0]);
        Assert.Equal(["app/Humanizer.dll"], app[1]);
        Assert.Equal(["app/MyApp.deps.json", "app/MyApp.dll"], app[2]);

        var config = JsonNode.Parse(result.Image.Config)!;
        var history = config["history"]!.AsArray().Select(h => h!["created_by"]!.GetValue<string>()).TakeLast(3).ToList();
        Assert.Contains("runtime pack Microsoft.NETCore.App.Runtime.linux-x64 10.0.0, 2 files", history[0], StringComparison.Ordinal);
        Assert.Contains("NuGet packages Humanizer.Core 2.14.1, 1 files", history[1], StringComparison.Ordinal);
        Assert.Contains("the app's own files", history[2], StringComparison.Ordinal);
        Assert.Equal(5, config["rootfs"]!["diff_ids"]!.AsArray().Count);
        Assert.Contains(_log.Lines, l => l.Contains("app layer 'packages' sha256:", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("app layers runtime ", StringComparison.Ordinal) && l.Contains(", packages ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_code_change_uploads_only_the_app_layer_and_the_config()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder("app v1");
        var first = await PublishAsync(Request(baseImage, new LayerSplitOptions()));
        MakePublishFolder("app v2: one line changed");
        _fake.Requests.Clear();

        var second = await PublishAsync(Request(baseImage, new LayerSplitOptions()));

        var uploaded = UploadedDigests();
        Assert.Equal(
            new[] { second.Image.Layers[^1].Descriptor.Digest.Value, second.Image.ConfigDigest.Value }.Order(StringComparer.Ordinal),
            uploaded.Order(StringComparer.Ordinal));
        // Runtime and packages layers are byte for byte the ones of the first publish.
        Assert.Equal(first.Image.Layers.Take(4).Select(l => l.Descriptor.Digest), second.Image.Layers.Take(4).Select(l => l.Descriptor.Digest));
        // Only the changed app part was compressed again; the unchanged ones are the registry's blobs.
        Assert.NotEqual(first.Image.Layers[^1].Descriptor.Digest, second.Image.Layers[^1].Descriptor.Digest);
        Assert.IsType<FileBlobSource>(second.Image.Layers[^1].Source);
        Assert.All(second.Image.Layers.Skip(2).Take(2), l => Assert.IsType<RegistryBlobSource>(l.Source));
        Assert.Equal(["from registry cache", "from registry cache", "built"], second.Report.Layers.TakeLast(3).Select(l => l.Prepared));
        // The summary line says it per layer.
        var summary = _log.Lines.Last(l => l.Contains("app layers ", StringComparison.Ordinal));
        Assert.Matches(@"\(2 already there\); app layers runtime [^,]+ already there, packages [^,]+ already there, app [^,)]+ uploaded\)", summary);
    }

    [Fact]
    public async Task Republishing_unchanged_output_to_the_same_tag_compresses_and_uploads_no_app_layer()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();
        var first = await PublishAsync(Request(baseImage, new LayerSplitOptions()));
        _fake.Requests.Clear();
        var linesBefore = _log.Lines.Count;

        var second = await PublishAsync(Request(baseImage, new LayerSplitOptions()));

        var uploaded = UploadedDigests();
        var appDigests = first.Image.Layers.TakeLast(3).Select(l => l.Descriptor.Digest.Value).ToList();
        Assert.DoesNotContain(uploaded, appDigests.Contains);
        Assert.Contains(_fake.Requests, r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal));
        Assert.Equal(first.Image.Layers.Select(l => l.Descriptor.Digest), second.Image.Layers.Select(l => l.Descriptor.Digest));
        // Not compressed again: each app layer points at the registry's blob, and says so.
        Assert.All(second.Image.Layers.TakeLast(3), l => Assert.IsType<RegistryBlobSource>(l.Source));
        Assert.Equal(["from registry cache", "from registry cache", "from registry cache"], second.Report.Layers.TakeLast(3).Select(l => l.Prepared));
        Assert.Equal(3, _log.Lines.Skip(linesBefore).Count(l => l.Contains("app layer '", StringComparison.Ordinal) && l.Contains("zstd from the registry", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task With_SOURCE_DATE_EPOCH_two_publishes_of_the_same_folder_give_the_same_image()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();
        var request = Request(baseImage, new LayerSplitOptions()) with { SourceDateEpoch = "1700000000" };

        var first = await PublishAsync(request);
        File.SetLastWriteTimeUtc(Path.Combine(Publish, "Humanizer.dll"), DateTime.UtcNow.AddDays(-3));
        var second = await PublishAsync(request with { Tags = ["2.0"] });

        Assert.Equal(5, first.Image.Layers.Count);
        Assert.Equal(first.Image.ManifestDigest, second.Image.ManifestDigest);
    }

    [Fact]
    public async Task With_zstd_chunked_every_app_layer_is_chunked_and_the_split_holds()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();
        var request = Request(baseImage, new LayerSplitOptions());

        var result = await PublishAsync(request with { Compression = request.Compression with { Chunked = true } });

        var app = result.Image.Layers.Skip(2).ToList();
        Assert.Equal(3, app.Count);
        Assert.All(app, l => Assert.True(ZstdContainers.Layers.ZstdChunked.ZstdChunkedBlobWriter.IsChunked(l.Descriptor)));
        Assert.Equal(["app/Humanizer.dll"], FileNames(_fake.GetBlob(Target, app[1].Descriptor.Digest)));
    }

    [Fact]
    public async Task With_base_layers_kept_as_they_are_the_app_layers_still_split()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();
        var request = Request(baseImage, new LayerSplitOptions());

        var result = await PublishAsync(request with { Compression = request.Compression with { RecompressBaseLayers = false } });

        Assert.Equal(baseImage.BlobDigests, result.Image.Layers.Take(2).Select(l => l.Descriptor.Digest));
        Assert.Equal(3, result.Image.Layers.Count - 2);
        Assert.All(result.Image.Layers.Skip(2), l => Assert.Equal(MediaTypes.OciLayerZstd, l.Descriptor.MediaType));
    }

    [Fact]
    public async Task Without_split_the_folder_is_one_app_layer_as_before()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();

        var result = await PublishAsync(Request(baseImage, LayerSplitOptions.None));

        Assert.Equal(3, result.Image.Layers.Count);
        Assert.Equal(5, FileNames(_fake.GetBlob(Target, result.Image.Layers[2].Descriptor.Digest)).Count);
        Assert.Contains(_log.Lines, l => l.Contains("  app layer sha256:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_single_file_publish_without_deps_file_gives_one_app_layer_without_error()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        Directory.CreateDirectory(Publish);
        File.WriteAllBytes(Path.Combine(Publish, "MyApp"), LayerTestData.Text(100_000, seed: 4));

        var result = await PublishAsync(Request(baseImage, new LayerSplitOptions()) with { AppCommand = ["/app/MyApp"] });

        Assert.Equal(3, result.Image.Layers.Count);
        Assert.Equal(["app/MyApp"], FileNames(_fake.GetBlob(Target, result.Image.Layers[2].Descriptor.Digest)));
    }

    [Fact]
    public async Task A_bad_custom_layer_fails_before_the_base_image_is_fetched()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();
        _fake.Requests.Clear();

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => PublishAsync(
            Request(baseImage, new LayerSplitOptions { CustomLayers = [new CustomLayer("data", ["*.json"], "nowhere")] })));

        Assert.Equal(ErrorCodes.InvalidCustomLayer, error.Code);
        Assert.Empty(_fake.Requests);
    }

    [Fact]
    public async Task A_per_rid_image_hands_every_app_layer_to_the_index_step_of_an_archive()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        MakePublishFolder();
        var archive = Path.Combine(_root, "out", "image.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);
        var split = new LayerSplitOptions { CustomLayers = [new CustomLayer("deps", ["*.deps.json"], LayerPartitioner.BaseAnchor)] };
        var image = (await PublishAsync(Request(baseImage, split, skipPublishing: true, archive: archive))).Image;
        Assert.Equal(2 + 4, image.Layers.Count);
        Assert.False(File.Exists(archive));

        var options = RegistryTestHelpers.Options(_fake, _log);
        var request = new ImageIndexRequest
        {
            Images = [new GeneratedImage(System.Text.Encoding.UTF8.GetString(image.Manifest), System.Text.Encoding.UTF8.GetString(image.Config), image.ManifestDigest.Value, image.ManifestMediaType)],
            BaseImage = baseImage.Reference,
            Repository = Target,
            Tags = ["1.0"],
            ArchiveOutputPath = archive,
            Compression = new CompressionOptions { UseZstd = true, CacheDirectory = Path.Combine(_root, "cache") },
        };
        await new ImageIndexPublisher(options, _log).PublishAsync(request, new ArchiveSink(archive), CancellationToken.None);

        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var reader = new TarReader(File.OpenRead(archive)))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                using var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                blobs[entry.Name] = content.ToArray();
            }
        }
        Assert.All(image.Layers.Skip(2), l => Assert.Equal(l.Descriptor.Digest, Digest.Of(blobs["blobs/sha256/" + l.Descriptor.Digest.Hex])));
        // The user's layer sits directly on the base image and holds only its files.
        Assert.Equal(["app/MyApp.deps.json"], FileNames(blobs["blobs/sha256/" + image.Layers[2].Descriptor.Digest.Hex]));
    }
}
