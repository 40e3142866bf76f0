using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Destinations;

public sealed class RegistryPusherTests
{
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();

    private RegistryClient Client() => new(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(_fake, _log));

    [Fact]
    public async Task Blobs_the_repository_has_are_not_sent_again_and_the_tally_counts_only_what_was()
    {
        var have = TestImages.Layer("already there");
        var lacks = TestImages.Layer("new layer");
        var image = TestImages.Image(TestImages.Amd64, [have, lacks]);
        _fake.AddBlob("r", "already there"u8.ToArray());
        using var client = Client();

        var shipped = await new RegistryPusher(client, "r", _log).PushBlobsAsync(image, CancellationToken.None);

        Assert.Equal(new UploadTally(2, 3, "new layer".Length + image.Config.Length), UploadTally.Of(shipped));
        Assert.Equal([BlobTransfer.AlreadyPresent, BlobTransfer.Uploaded, BlobTransfer.Uploaded], shipped.Select(b => b.Transfer));
        Assert.Equal([have.Descriptor.Digest, lacks.Descriptor.Digest, image.ConfigDigest], shipped.Select(b => b.Digest));
        Assert.Equal(0, ((BytesBlobSource)have.Source).Opened);
        Assert.True(_fake.HasBlob("r", image.ConfigDigest));
        Assert.Equal("new layer"u8.ToArray(), _fake.GetBlob("r", lacks.Descriptor.Digest));
    }

    [Fact]
    public async Task The_first_failed_upload_stops_the_others_and_is_the_error_thrown_not_their_cancellation()
    {
        var stalled = TestImages.Layer("listed first, its upload hangs");
        var refused = TestImages.Layer("listed second, its upload is refused");
        var image = TestImages.Image(TestImages.Amd64, [stalled, refused]);
        var stalledHead = $"/v2/r/blobs/{stalled.Descriptor.Digest}";
        // The refusal waits for the first upload to be under way: a failure before it would not show the stop.
        var stallStarted = _fake.StallRequestsTo(HttpMethod.Head, stalledHead);
        _fake.Intercept = async (request, _) =>
        {
            if (request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath == "/v2/r/blobs/uploads/")
            {
                await stallStarted;
                return FakeRegistry.Respond(System.Net.HttpStatusCode.BadRequest, FakeRegistry.OciError("UNSUPPORTED", "repository is read-only"));
            }
            return null;
        };
        using var client = Client();

        // The timeout only keeps a regression from hanging the test run: nothing else ends the stall.
        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new RegistryPusher(client, "r", _log).PushBlobsAsync(image, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2)));

        Assert.Equal(ErrorCodes.RegistryError, error.Code);
        Assert.Contains("read-only", error.Message);
        Assert.Contains(_fake.StallsCancelled, uri => uri.AbsolutePath == stalledHead);
        Assert.False(_fake.HasBlob("r", image.ConfigDigest));
    }

    [Fact]
    public async Task A_blob_from_elsewhere_is_staged_privately_unlinked_and_survives_a_retried_upload()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // reads /proc/self/fd
        }
        var bytes = FakeRegistry.RandomBytes(300_000, seed: 7);
        var digest = Digest.Of(bytes);
        var layer = TestImages.Layer(bytes, MediaTypes.OciLayerGzip, new BytesBlobSource(bytes));
        var seen = new List<(string Target, UnixFileMode Mode)>();
        var oldStyle = new List<string>();
        var failed = false;
        _fake.Intercept = (request, _) =>
        {
            if (request.Method == HttpMethod.Put && request.RequestUri!.AbsolutePath.Contains("/blobs/uploads/", StringComparison.Ordinal))
            {
                foreach (var fd in Directory.GetFiles("/proc/self/fd"))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    // Staged copies only (tests running alongside hold other files of ours open).
                    if (target is not null && (target.Contains("zstdcontainers-stage-", StringComparison.Ordinal) || target.Contains(digest.Hex[..16], StringComparison.Ordinal)))
                    {
                        seen.Add((target, File.GetUnixFileMode(fd)));
                    }
                }
                oldStyle.AddRange(Directory.GetFiles(Path.GetTempPath(), "*" + digest.Hex[..16] + "*"));
                if (!failed)
                {
                    failed = true; // the first attempt fails: the upload starts over from the staged copy
                    return Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(System.Net.HttpStatusCode.ServiceUnavailable));
                }
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };
        using var client = Client();

        await new RegistryPusher(client, "r", _log).PushBlobsAsync(TestImages.Image(TestImages.Amd64, [layer]), CancellationToken.None);

        Assert.Equal(bytes, _fake.GetBlob("r", digest));
        Assert.True(failed);
        Assert.Empty(oldStyle); // no copy under a name in the shared temp folder
        Assert.NotEmpty(seen);
        Assert.All(seen, s =>
        {
            Assert.EndsWith("(deleted)", s.Target, StringComparison.Ordinal); // nothing to find, nothing left when killed
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, s.Mode);
        });
    }

    [Fact]
    public async Task A_layer_from_another_repository_of_the_same_registry_is_mounted_not_uploaded()
    {
        var bytes = "base layer"u8.ToArray();
        _fake.AddBlob("dotnet/aspnet", bytes);
        var source = new BytesBlobSource(bytes);
        var layer = TestImages.Layer(bytes, MediaTypes.OciLayerGzip, source) with
        {
            SourceRepository = new ImageReference(RegistryTestHelpers.Registry, "dotnet/aspnet", "10.0"),
        };
        using var client = Client();

        var shipped = await new RegistryPusher(client, "r", _log).PushBlobsAsync(TestImages.Image(TestImages.Amd64, [layer]), CancellationToken.None);

        Assert.Equal(1, UploadTally.Of(shipped).UploadedBlobs); // the config only
        Assert.Equal(BlobTransfer.Mounted, shipped[0].Transfer);
        Assert.Equal(0, source.Opened);
        Assert.True(_fake.HasBlob("r", Digest.Of(bytes)));
        Assert.Contains(_fake.Requests, r => r.Method == "POST" && r.Uri.Query.Contains("from=dotnet%2Faspnet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_manifest_goes_under_each_tag_in_order()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("x")]);
        using var client = Client();

        await new RegistryPusher(client, "r", _log).PushManifestAsync(image.Manifest, image.ManifestMediaType, ["a", "b"], CancellationToken.None);

        var puts = _fake.Requests.Where(r => r.Method == "PUT").Select(r => r.Uri.AbsolutePath).ToList();
        Assert.Equal(["/v2/r/manifests/a", "/v2/r/manifests/b"], puts);
        Assert.Equal(image.Manifest, _fake.GetManifest("r", "b")!.Value.Content);
    }
}
