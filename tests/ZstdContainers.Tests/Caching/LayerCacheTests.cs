using System.Collections.Concurrent;
using System.Text.Json;
using ZstdContainers.Caching;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;

namespace ZstdContainers.Tests.Caching;

public sealed class LayerCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zc-cache-").FullName;
    private readonly byte[] _tar = LayerTestData.Text(1_500_000, seed: 11);
    private readonly byte[] _gzip;
    private readonly Digest _source;
    private readonly RecordingLog _log = new();
    private int _creates;

    public LayerCacheTests()
    {
        _gzip = LayerTestData.Gzip(_tar);
        _source = Digest.Of(_gzip);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string CacheDir => Path.Combine(_root, "cache");

    private LayerCache NewCache(TimeSpan? lockTimeout = null) =>
        new(CacheDir, _log, lockTimeout ?? TimeSpan.FromMinutes(1));

    // The real thing: the transcoder writes into the path the cache hands out.
    private async Task<LayerBlob> Create(string path, CancellationToken ct)
    {
        Interlocked.Increment(ref _creates);
        return await BaseLayerTranscoder.TranscodeAsync(
            new MemoryStream(_gzip), LayerCompression.Gzip, _source, Digest.Of(_tar), path, new ZstdSettings(3, 2), ct);
    }

    private Task<CachedLayer> Get(LayerCache cache, int level = 3) =>
        cache.GetOrAddTranscodedAsync(_source, level, Create, CancellationToken.None);

    private void AssertValid(CachedLayer layer)
    {
        var file = File.ReadAllBytes(layer.Blob.FilePath);
        Assert.Equal(layer.Blob.Size, file.Length);
        Assert.Equal(layer.Blob.Digest, Digest.Of(file));
        Assert.Equal(Digest.Of(_tar), layer.Blob.DiffId);
        Assert.Equal(_tar.Length, layer.Blob.TarSize);
        Assert.Equal(MediaTypes.OciLayerZstd, layer.Blob.Descriptor.MediaType);
        Assert.Equal(_tar, LayerTestData.Unzstd(file));
    }

    private string V1 => Path.Combine(CacheDir, LayerCache.FormatVersion);

    private string RecordPath(int level = 3) => Path.Combine(V1, "transcoded", $"{_source.Hex}.L{level}.json");

    private string[] Blobs => Directory.GetFiles(Path.Combine(V1, "blobs", "sha256"));

    private string[] Temps => Directory.GetFiles(Path.Combine(V1, "tmp"));

    [Fact]
    public async Task Zstd_chunked_entries_are_kept_apart_from_plain_ones_and_keep_their_annotations()
    {
        using var cache = NewCache();
        var tar = LayerTestData.Tar(LayerTestData.MakeFolder(Path.Combine(_root, "publish")));
        var gzip = LayerTestData.Gzip(tar);
        var source = Digest.Of(gzip);
        Func<string, CancellationToken, Task<LayerBlob>> Creator(ZstdSettings settings) => (path, ct) => BaseLayerTranscoder.TranscodeAsync(
            new MemoryStream(gzip), LayerCompression.Gzip, source, Digest.Of(tar), path, settings, ct);
        var chunkedSettings = new ZstdSettings(3, 2) { Chunked = true };

        var plain = await cache.GetOrAddTranscodedAsync(source, 3, Creator(new ZstdSettings(3, 2)), CancellationToken.None);
        var chunked = await cache.GetOrAddTranscodedAsync(source, 3, chunkedSettings.FormatName, Creator(chunkedSettings), CancellationToken.None);
        using var reopened = NewCache();
        var hit = await reopened.GetOrAddTranscodedAsync(source, 3, chunkedSettings.FormatName, Creator(chunkedSettings), CancellationToken.None);

        Assert.False(chunked.FromCache);
        Assert.True(hit.FromCache);
        Assert.Null(plain.Blob.Descriptor.Annotations);
        Assert.NotEqual(plain.Blob.Digest, chunked.Blob.Digest);
        Assert.Equal(chunked.Blob.Digest, hit.Blob.Digest);
        Assert.NotNull(hit.Blob.Descriptor.Annotations);
        Assert.Equal(chunked.Blob.Descriptor.Annotations, hit.Blob.Descriptor.Annotations);
        Assert.True((await reopened.GetOrAddTranscodedAsync(source, 3, Creator(new ZstdSettings(3, 2)), CancellationToken.None)).FromCache);
    }

    [Fact]
    public async Task A_miss_creates_and_stores_the_entry_and_the_next_call_is_a_verified_hit()
    {
        using var cache = NewCache();

        var first = await Get(cache);
        var second = await Get(cache);

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(1, _creates);
        Assert.Equal(first.Blob, second.Blob);
        Assert.Equal(Path.Combine(V1, "blobs", "sha256", first.Blob.Digest.Hex), second.Blob.FilePath);
        AssertValid(second);
        Assert.Empty(Temps);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public async Task The_record_describes_the_entry()
    {
        using var cache = NewCache();

        var layer = await Get(cache, level: 5);

        using var record = JsonDocument.Parse(File.ReadAllBytes(RecordPath(5)));
        var json = record.RootElement;
        Assert.Equal(_source.Value, json.GetProperty("sourceDigest").GetString());
        Assert.Equal(5, json.GetProperty("level").GetInt32());
        Assert.Equal(layer.Blob.Digest.Value, json.GetProperty("digest").GetString());
        Assert.Equal(layer.Blob.Size, json.GetProperty("size").GetInt64());
        Assert.Equal(layer.Blob.DiffId.Value, json.GetProperty("diffId").GetString());
        Assert.Equal(MediaTypes.OciLayerZstd, json.GetProperty("mediaType").GetString());
    }

    [Fact]
    public async Task A_hit_survives_a_new_cache_instance()
    {
        using (var cache = NewCache())
        {
            await Get(cache);
        }
        using var again = NewCache();

        var layer = await Get(again);

        Assert.True(layer.FromCache);
        Assert.Equal(1, _creates);
    }

    [Fact]
    public async Task A_stored_blob_is_found_by_its_digest()
    {
        using var cache = NewCache();
        Assert.Null(cache.TryGetBlobPath(_source));

        var layer = await Get(cache);

        Assert.Equal(layer.Blob.FilePath, cache.TryGetBlobPath(layer.Blob.Digest));
        Assert.Null(cache.TryGetBlobPath(_source)); // the gzip source is not what the cache keeps
    }

    [Fact]
    public async Task Each_level_is_its_own_entry()
    {
        using var cache = NewCache();

        var l3 = await Get(cache, level: 3);
        var l9 = await Get(cache, level: 9);

        Assert.False(l9.FromCache);
        Assert.Equal(2, _creates);
        Assert.True(File.Exists(RecordPath(3)));
        Assert.True(File.Exists(RecordPath(9)));
        Assert.True((await Get(cache, level: 3)).FromCache);
        Assert.Equal(l3.Blob.DiffId, l9.Blob.DiffId);
    }

    [Fact]
    public async Task Corrupt_blob_bytes_are_detected_and_the_entry_is_rebuilt()
    {
        using var cache = NewCache();
        var first = await Get(cache);
        using (var blob = File.Open(first.Blob.FilePath, FileMode.Open, FileAccess.ReadWrite))
        {
            blob.Position = blob.Length / 2;
            blob.WriteByte(0xEE);
            blob.WriteByte(0xEE);
        }

        var second = await Get(cache);

        Assert.False(second.FromCache);
        Assert.Equal(2, _creates);
        AssertValid(second);
        Assert.Equal(first.Blob.Digest, second.Blob.Digest);
        var warning = Assert.Single(_log.Warnings);
        Assert.Equal(ErrorCodes.CacheEntryCorrupt, warning.Code);
        Assert.Contains(_source.Value, warning.Message);
        Assert.Contains(_log.Details, d => d.Contains("damaged", StringComparison.Ordinal));
        Assert.True((await Get(cache)).FromCache);
    }

    [Fact]
    public async Task A_truncated_blob_is_detected_by_its_size_and_rebuilt()
    {
        using var cache = NewCache();
        var first = await Get(cache);
        using (var blob = File.Open(first.Blob.FilePath, FileMode.Open, FileAccess.ReadWrite))
        {
            blob.SetLength(blob.Length - 10);
        }

        var second = await Get(cache);

        Assert.False(second.FromCache);
        AssertValid(second);
        Assert.Equal(ErrorCodes.CacheEntryCorrupt, Assert.Single(_log.Warnings).Code);
    }

    [Fact]
    public async Task A_missing_blob_is_rebuilt()
    {
        using var cache = NewCache();
        var first = await Get(cache);
        File.Delete(first.Blob.FilePath);

        var second = await Get(cache);

        Assert.False(second.FromCache);
        Assert.Equal(2, _creates);
        AssertValid(second);
        Assert.Contains("missing", Assert.Single(_log.Warnings).Message);
    }

    [Fact]
    public async Task A_missing_record_is_a_plain_miss()
    {
        using var cache = NewCache();
        await Get(cache);
        File.Delete(RecordPath());

        var second = await Get(cache);

        Assert.False(second.FromCache);
        Assert.Equal(2, _creates);
        AssertValid(second);
        Assert.Single(Blobs);
        Assert.Empty(_log.Warnings);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{}")]
    [InlineData("{\"sourceDigest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"level\":3,\"digest\":\"x\",\"size\":1,\"diffId\":\"y\",\"tarSize\":1,\"mediaType\":\"z\"}")]
    public async Task A_damaged_record_is_rebuilt(string json)
    {
        using var cache = NewCache();
        await Get(cache);
        File.WriteAllText(RecordPath(), json);

        var second = await Get(cache);

        Assert.False(second.FromCache);
        AssertValid(second);
        Assert.Equal(ErrorCodes.CacheEntryCorrupt, Assert.Single(_log.Warnings).Code);
        Assert.True((await Get(cache)).FromCache);
    }

    [Fact]
    public async Task A_failing_create_leaves_nothing_behind_and_the_next_call_tries_again()
    {
        using var cache = NewCache();

        await Assert.ThrowsAsync<ZstdContainersException>(() => cache.GetOrAddTranscodedAsync(
            _source,
            3,
            (path, ct) => BaseLayerTranscoder.TranscodeAsync(
                new MemoryStream(_gzip), LayerCompression.Gzip, _source, Digest.Of([1, 2, 3]), path, new ZstdSettings(), ct),
            CancellationToken.None));

        Assert.Empty(Temps);
        Assert.Empty(Blobs);
        Assert.False(File.Exists(RecordPath()));
        Assert.False((await Get(cache)).FromCache);
    }

    [Fact]
    public async Task Create_must_write_where_it_is_told()
    {
        using var cache = NewCache();

        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetOrAddTranscodedAsync(
            _source, 3, (_, ct) => Create(Path.Combine(_root, "elsewhere"), ct), CancellationToken.None));
    }

    [Fact]
    public async Task Concurrent_requests_for_one_layer_all_get_a_valid_blob_and_one_entry()
    {
        using var cache = NewCache();

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Get(cache))));

        Assert.All(results, AssertValid);
        Assert.Single(results.Select(r => r.Blob.Digest).Distinct());
        Assert.Equal(1, _creates); // the lock makes the others wait and then hit
        Assert.Equal(5, results.Count(r => r.FromCache));
        Assert.Single(Blobs);
        Assert.Single(Directory.GetFiles(Path.Combine(V1, "transcoded")));
        Assert.Empty(Temps);
    }

    [Fact]
    public async Task Concurrent_builds_without_the_lock_still_all_end_valid()
    {
        // Separate instances, as separate processes would be; a zero lock timeout means nobody waits,
        // so several transcode at once and race to rename their results into place.
        var caches = Enumerable.Range(0, 6).Select(_ => NewCache(TimeSpan.Zero)).ToList();

        var results = await Task.WhenAll(caches.Select(cache => Task.Run(() => Get(cache))));

        Assert.All(results, AssertValid);
        Assert.True(_creates >= 1);
        Assert.Single(Blobs);
        Assert.Single(Directory.GetFiles(Path.Combine(V1, "transcoded")));
        Assert.Empty(Temps);
        Assert.True((await Get(caches[0])).FromCache);
        caches.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task An_unusable_directory_falls_back_to_a_temporary_one_with_a_warning()
    {
        // A path below a regular file can never be created, whoever runs the test (root included).
        var file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "");
        var cache = new LayerCache(Path.Combine(file, "cache"), _log);
        string fallback;
        using (cache)
        {
            var warning = Assert.Single(_log.Warnings);
            Assert.Equal(ErrorCodes.CacheUnusable, warning.Code);
            Assert.Contains("ContainerLayerCacheDirectory", warning.Message);
            Assert.True(cache.IsTemporary);
            fallback = cache.Directory;
            Assert.StartsWith(Path.GetTempPath(), fallback);

            var layer = await cache.GetOrAddTranscodedAsync(_source, 3, Create, CancellationToken.None);
            AssertValid(layer);
            Assert.StartsWith(fallback, layer.Blob.FilePath);
            Assert.True((await cache.GetOrAddTranscodedAsync(_source, 3, Create, CancellationToken.None)).FromCache);
        }
        Assert.False(Directory.Exists(fallback));
    }

    [Fact]
    public void A_read_only_directory_falls_back_too()
    {
        if (Environment.UserName == "root" || OperatingSystem.IsWindows())
        {
            return; // root writes through file modes; the test above covers the fallback for everyone
        }
        Directory.CreateDirectory(CacheDir);
        File.SetUnixFileMode(CacheDir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            using var cache = NewCache();
            Assert.True(cache.IsTemporary);
            Assert.Equal(ErrorCodes.CacheUnusable, Assert.Single(_log.Warnings).Code);
        }
        finally
        {
            File.SetUnixFileMode(CacheDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void Old_temporary_files_of_killed_builds_are_swept_and_fresh_ones_kept()
    {
        using (NewCache())
        {
        }
        var old = Path.Combine(V1, "tmp", "old.blob");
        var fresh = Path.Combine(V1, "tmp", "fresh.blob");
        File.WriteAllText(old, "x");
        File.WriteAllText(fresh, "x");
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-3));

        using (NewCache())
        {
        }

        Assert.False(File.Exists(old));
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task Clear_removes_the_cache_but_not_files_that_are_not_its()
    {
        using (var cache = NewCache())
        {
            await Get(cache);
        }
        Directory.CreateDirectory(Path.Combine(CacheDir, "v0"));
        File.WriteAllText(Path.Combine(CacheDir, "notes.txt"), "mine");

        LayerCache.Clear(CacheDir);

        Assert.False(Directory.Exists(V1));
        Assert.False(Directory.Exists(Path.Combine(CacheDir, "v0")));
        Assert.True(File.Exists(Path.Combine(CacheDir, "notes.txt")));

        File.Delete(Path.Combine(CacheDir, "notes.txt"));
        LayerCache.Clear(CacheDir);
        Assert.False(Directory.Exists(CacheDir));
        LayerCache.Clear(CacheDir); // nothing there: no error
    }

    [Fact]
    public void Default_directory_follows_xdg_then_home()
    {
        Assert.Equal(
            Path.Combine("/xdg/cache", "zstdcontainers"),
            LayerCache.DefaultDirectory(new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = "/xdg/cache", ["HOME"] = "/home/u" }, windows: false));
        Assert.Equal(
            Path.Combine("/home/u", ".cache", "zstdcontainers"),
            LayerCache.DefaultDirectory(new Dictionary<string, string?> { ["HOME"] = "/home/u" }, windows: false));
        // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
        Assert.Equal(
            Path.Combine("/home/u", ".cache", "zstdcontainers"),
            LayerCache.DefaultDirectory(new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = "rel", ["HOME"] = "/home/u" }, windows: false));
        Assert.Equal(
            Path.Combine("/home/u", ".cache", "zstdcontainers"),
            LayerCache.DefaultDirectory(new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = "", ["HOME"] = "/home/u" }, windows: false));
    }

    [Fact]
    public void Default_directory_on_windows_is_under_local_app_data()
    {
        Assert.Equal(
            Path.Combine(@"C:\Users\u\AppData\Local", "zstdcontainers"),
            LayerCache.DefaultDirectory(new Dictionary<string, string?> { ["LocalAppData"] = @"C:\Users\u\AppData\Local", ["XDG_CACHE_HOME"] = "/x" }, windows: true));
    }

    [Fact]
    public void Default_directory_without_any_variable_is_still_a_path()
    {
        var dir = LayerCache.DefaultDirectory(new Dictionary<string, string?>());

        Assert.True(Path.IsPathRooted(dir));
        Assert.EndsWith("zstdcontainers", dir, StringComparison.Ordinal);
    }

    private sealed class RecordingLog : IBuildLog
    {
        public ConcurrentQueue<string> Infos { get; } = new();
        public ConcurrentQueue<string> Details { get; } = new();
        public ConcurrentQueue<(string Code, string Message)> Warnings { get; } = new();

        public void Info(string message) => Infos.Enqueue(message);

        public void Detail(string message) => Details.Enqueue(message);

        public void Warning(string code, string message) => Warnings.Enqueue((code, message));
    }
}
