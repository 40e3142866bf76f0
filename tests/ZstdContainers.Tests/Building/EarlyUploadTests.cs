using System.Net;
using System.Net.Http;
using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// A layer's upload starts as soon as that layer is ready, while other layers are still being built;
/// the manifest goes up only after every blob, so a failed build tags nothing. The gate is the app
/// layer's registry-cache lookup: the fake registry holds it until it sees a base layer's upload
/// start, so an upload that waited for every layer would never open it.
/// </summary>
public sealed class EarlyUploadTests : IDisposable
{
    private const string Target = "apps/web";
    private static readonly TimeSpan GateTimeout = TimeSpan.FromSeconds(30);
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-early-").FullName;
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();
    private readonly TaskCompletionSource _baseUploadStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ImageRequest Request(FakeBaseImage baseImage, string repository) => BuildingTestKit.Request() with
    {
        BaseImage = baseImage.Reference,
        PublishDirectory = LayerTestData.MakeFolder(Directory.CreateDirectory(Path.Combine(_root, "publish")).FullName),
        Repository = repository,
        Tags = ["1.0"],
        OutputRegistry = RegistryTestHelpers.Registry,
        // One cache for every publish here: the base layers are ready at once, from disk.
        Compression = new CompressionOptions { UseZstd = true, CacheDirectory = Path.Combine(_root, "cache") },
    };

    private async Task<ImagePublishResult> PublishAsync(ImageRequest request)
    {
        var options = RegistryTestHelpers.Options(_fake, _log);
        using var sink = new RegistrySink(RegistryTestHelpers.Registry, options, _log);
        return await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
    }

    // Holds the GET of the target tag (the registry cache lookup the app layer waits for) until a
    // base layer's upload has started, then runs whileHeld; true when it opened because of an upload.
    private Func<bool> HoldAppLayerUntilABaseUploadStarts(IReadOnlyList<string> baseLayerDigests, Action? whileHeld = null)
    {
        var openedByUpload = false;
        _fake.Intercept = async (request, _) =>
        {
            var path = request.RequestUri!.AbsolutePath;
            if (request.Method == HttpMethod.Head && path.StartsWith($"/v2/{Target}/blobs/", StringComparison.Ordinal) && baseLayerDigests.Any(path.EndsWith))
            {
                _baseUploadStarted.TrySetResult();
            }
            else if (request.Method == HttpMethod.Get && path == $"/v2/{Target}/manifests/1.0")
            {
                try
                {
                    await _baseUploadStarted.Task.WaitAsync(GateTimeout);
                    openedByUpload = true;
                }
                catch (TimeoutException)
                {
                }
                whileHeld?.Invoke();
            }
            return null;
        };
        return () => openedByUpload;
    }

    [Fact]
    public async Task A_base_layer_upload_starts_before_the_app_layer_is_built_and_the_manifest_goes_up_last()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var warm = await PublishAsync(Request(baseImage, "apps/other")); // fills the local cache
        var baseDigests = warm.Image.Layers.Take(2).Select(l => l.Descriptor.Digest.Value).ToList();
        var openedByUpload = HoldAppLayerUntilABaseUploadStarts(baseDigests);
        _fake.Requests.Clear();

        var result = await PublishAsync(Request(baseImage, Target));

        Assert.True(openedByUpload(), "a base layer's upload started while the app layer waited");
        var requests = _fake.Requests.ToList();
        var manifestPut = requests.FindIndex(r => r.Method == "PUT" && r.Uri.AbsolutePath == $"/v2/{Target}/manifests/1.0");
        var lastBlobPut = requests.FindLastIndex(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/blobs/uploads/", StringComparison.Ordinal));
        Assert.True(lastBlobPut >= 0 && lastBlobPut < manifestPut, "every blob went up before the manifest");
        Assert.Equal(result.Image.Manifest, _fake.GetManifest(Target, "1.0")!.Value.Content);
        Assert.All(result.Image.Layers, l => Assert.True(_fake.HasBlob(Target, l.Descriptor.Digest)));
        Assert.Equal(["uploaded", "uploaded", "uploaded"], result.Report.Layers.Select(l => l.Transfer));
        Assert.Contains(_log.Lines, l => l.Contains($"uploaded 4 of 4 blobs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failure_while_a_later_layer_is_built_leaves_no_manifest_and_no_tag()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        var warm = await PublishAsync(Request(baseImage, "apps/other"));
        var baseDigests = warm.Image.Layers.Take(2).Select(l => l.Descriptor.Digest.Value).ToList();
        var request = Request(baseImage, Target);
        // The publish folder disappears while the app layer waits: its build fails after base uploads started.
        var openedByUpload = HoldAppLayerUntilABaseUploadStarts(baseDigests, () => Directory.Delete(request.PublishDirectory, recursive: true));
        _fake.Requests.Clear();

        await Assert.ThrowsAnyAsync<Exception>(() => PublishAsync(request));

        Assert.True(openedByUpload());
        Assert.Contains(_fake.Requests, r => r.Method == "HEAD" && baseDigests.Any(r.Uri.AbsolutePath.EndsWith));
        Assert.Null(_fake.GetManifest(Target, "1.0"));
        Assert.DoesNotContain(_fake.Requests, r => r.Uri.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal) && r.Method == "PUT");
    }

    [Fact]
    public async Task The_first_failed_upload_stops_the_layers_still_being_built_and_is_the_error_reported()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        await PublishAsync(Request(baseImage, "apps/other"));
        // The second base layer leaves the local cache, so it must be downloaded and transcoded again;
        // its download hangs until the publish cancels it. Only the first upload's failure can.
        var recompressed = baseImage.BlobDigests.ElementAt(1);
        foreach (var record in Directory.GetFiles(Path.Combine(_root, "cache", "v1", "transcoded"), recompressed.Hex + ".*"))
        {
            File.Delete(record);
        }
        var stalledDownload = $"/v2/{FakeBaseImage.Repository}/blobs/{recompressed}";
        var downloadStalled = _fake.StallRequestsTo(HttpMethod.Get, stalledDownload);
        // The refusal waits until the download hangs: the build must be stopped mid-layer, not before it starts.
        _fake.Intercept = async (request, _) =>
        {
            if (request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath == $"/v2/{Target}/blobs/uploads/")
            {
                await downloadStalled;
                return FakeRegistry.Respond(HttpStatusCode.BadRequest, FakeRegistry.OciError("BLOB_UPLOAD_INVALID", "storage quota exceeded"));
            }
            return null;
        };
        _fake.Requests.Clear();

        // The timeout only keeps a regression from hanging the test run: nothing else ends the stall.
        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => PublishAsync(Request(baseImage, Target)).WaitAsync(TimeSpan.FromMinutes(2)));

        Assert.Equal(ErrorCodes.RegistryError, error.Code);
        Assert.Contains("storage quota exceeded", error.Message);
        Assert.Contains(_fake.StallsCancelled, uri => uri.AbsolutePath == stalledDownload);
        Assert.Null(_fake.GetManifest(Target, "1.0"));
        Assert.DoesNotContain(_fake.Requests, r => r.Uri.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal) && r.Method == "PUT");
    }
}
