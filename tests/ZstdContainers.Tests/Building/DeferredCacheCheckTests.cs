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

    // A multi-RID publish to an archive: the per-RID build makes its image without shipping it, then
    // the index step writes every image's blobs, reading base layers from the layer cache.
    private async Task<ImagePublishResult> PublishThroughHandOffAsync(string archive)
    {
        var compression = new CompressionOptions { UseZstd = true, CacheDirectory = CacheDirectory, HandOffDirectory = Path.Combine(_root, "obj", "handoff") };
        var inner = Request("apps/multi") with { OutputRegistry = null, ArchiveOutputPath = archive, SkipPublishing = true, Compression = compression };
        var options = RegistryTestHelpers.Options(_fake, _log);
        var built = await new ContainerImagePublisher(options, _log).PublishAsync(inner, new ArchiveSink(archive), CancellationToken.None);
        var request = new ImageIndexRequest
        {
            Images = [new GeneratedImage(System.Text.Encoding.UTF8.GetString(built.Image.Manifest), System.Text.Encoding.UTF8.GetString(built.Image.Config), built.Image.ManifestDigest.Value, built.Image.ManifestMediaType)],
            BaseImage = _baseImage.Reference,
            Repository = "apps/multi",
            Tags = ["1.0"],
            ArchiveOutputPath = archive,
            Compression = compression,
        };
        await new ImageIndexPublisher(options, _log).PublishAsync(request, new ArchiveSink(archive), CancellationToken.None);
        return built;
    }

    [Fact]
    public async Task A_damaged_cache_blob_read_by_the_index_step_of_a_multi_rid_archive_fails_with_a_code_and_is_evicted()
    {
        var archive = Path.Combine(_root, "out", "multi.tar");
        var first = await PublishThroughHandOffAsync(archive);
        var damaged = first.Image.Layers[0].Descriptor.Digest;
        var victim = Path.Combine(CacheDirectory, "v1", "blobs", "sha256", damaged.Hex);
        using (var blob = File.Open(victim, FileMode.Open, FileAccess.ReadWrite))
        {
            blob.Position = blob.Length / 2;
            blob.WriteByte((byte)(blob.ReadByte() ^ 0xff));
        }
        string RecordsNaming() => string.Join(",", Directory.GetFiles(Path.Combine(CacheDirectory, "v1", "transcoded"))
            .Where(r => File.ReadAllText(r).Contains(damaged.Value, StringComparison.Ordinal)));
        Assert.NotEmpty(RecordsNaming());

        // The size is unchanged, so the per-RID build takes the entry; the index step reads its bytes.
        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => PublishThroughHandOffAsync(archive));
        Assert.Equal(ErrorCodes.CacheEntryCorrupt, error.Code);
        Assert.Contains(damaged.Value, error.Message);
        Assert.Contains("publish again", error.Message);
        Assert.False(File.Exists(victim));
        Assert.Empty(RecordsNaming());

        // The entry is gone: the next publish recompresses the layer and the archive holds the right bytes.
        var retried = await PublishThroughHandOffAsync(archive);
        Assert.Equal(first.Image.Layers.Select(l => l.Descriptor.Digest), retried.Image.Layers.Select(l => l.Descriptor.Digest));
        Assert.Equal(damaged, Digest.Of(File.ReadAllBytes(victim)));
        Assert.Equal(damaged, Digest.Of(ArchiveBlob(archive, damaged)));
    }

    private static byte[] ArchiveBlob(string archive, Digest digest)
    {
        using var reader = new System.Formats.Tar.TarReader(File.OpenRead(archive));
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.Name == "blobs/sha256/" + digest.Hex)
            {
                using var bytes = new MemoryStream();
                entry.DataStream!.CopyTo(bytes);
                return bytes.ToArray();
            }
        }
        throw new InvalidOperationException($"{digest} is not in {archive}");
    }
}
