using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// A layer cache hit's bytes are checked only when a destination reads them: a blob the registry
/// already holds costs no read, and a damaged one found at upload fails with a coded error and is
/// evicted, so the next publish recompresses it.
/// </summary>
public sealed class DeferredCacheCheckTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-deferred-").FullName;
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();
    private readonly FakeBaseImage _baseImage;

    public DeferredCacheCheckTests() => _baseImage = FakeBaseImage.Push(_fake, _root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string CacheDirectory => Path.Combine(_root, "cache");

    private ImageRequest Request(string repository) =>
        BuildingTestKit.Request() with
        {
            BaseImage = _baseImage.Reference,
            PublishDirectory = LayerTestData.MakeFolder(Path.Combine(_root, "publish")),
            Repository = repository,
            Tags = ["1.0"],
            OutputRegistry = RegistryTestHelpers.Registry,
            Compression = new CompressionOptions { UseZstd = true, CacheDirectory = CacheDirectory },
        };

    private async Task<ImagePublishResult> PublishAsync(string repository)
    {
        var request = Request(repository);
        var options = RegistryTestHelpers.Options(_fake, _log);
        var sink = ImageSinks.For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRuntime, request.Repository, options, _log);
        return await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
    }

    private string[] CachedBlobs => Directory.GetFiles(Path.Combine(CacheDirectory, "v1", "blobs", "sha256"));

    [Fact]
    public async Task A_damaged_cache_blob_the_registry_holds_is_never_read_and_one_it_must_upload_fails_with_a_code_and_is_evicted()
    {
        var first = await PublishAsync("apps/web");
        var victim = Path.Combine(CacheDirectory, "v1", "blobs", "sha256", first.Image.Layers[0].Descriptor.Digest.Hex);
        using (var blob = File.Open(victim, FileMode.Open, FileAccess.ReadWrite))
        {
            blob.Position = blob.Length / 2;
            blob.WriteByte((byte)(blob.ReadByte() ^ 0xff));
        }

        // The registry holds the blob already: its bytes are not read, so the damage does not matter yet.
        var again = await PublishAsync("apps/web");
        Assert.Equal(first.Image.Layers.Select(l => l.Descriptor.Digest), again.Image.Layers.Select(l => l.Descriptor.Digest));
        Assert.DoesNotContain(_log.Lines, l => l.Contains(ErrorCodes.CacheEntryCorrupt, StringComparison.Ordinal));

        // Another repository needs the bytes: the damage is found while reading them to upload.
        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => PublishAsync("apps/other"));
        Assert.Equal(ErrorCodes.CacheEntryCorrupt, error.Code);
        Assert.Contains(first.Image.Layers[0].Descriptor.Digest.Value, error.Message);
        Assert.Contains("publish again", error.Message);
        Assert.False(File.Exists(victim));
        Assert.False(_fake.HasBlob("apps/other", first.Image.Layers[0].Descriptor.Digest));

        // The entry is gone, so the next publish recompresses the layer and uploads the right bytes.
        var retried = await PublishAsync("apps/other");
        Assert.Equal(first.Image.Layers.Select(l => l.Descriptor.Digest), retried.Image.Layers.Select(l => l.Descriptor.Digest));
        Assert.Equal(_baseImage.DiffIds[0], Digest.Of(LayerTestData.Unzstd(_fake.GetBlob("apps/other", first.Image.Layers[0].Descriptor.Digest))));
        Assert.Contains(victim, CachedBlobs);
    }
}
