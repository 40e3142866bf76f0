using System.Collections.Concurrent;
using System.Text.Json;
using ZstdContainers.Caching;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tasks;

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
        cache.GetOrAddTranscodedAsync(_source, Digest.Of(_tar), level, Create, CancellationToken.None);

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

        var plain = await cache.GetOrAddTranscodedAsync(source, Digest.Of(tar), 3, Creator(new ZstdSettings(3, 2)), CancellationToken.None);
        var chunked = await cache.GetOrAddTranscodedAsync(source, Digest.Of(tar), 3, chunkedSettings.FormatName, Creator(chunkedSettings), CancellationToken.None);
        using var reopened = NewCache();
        var hit = await reopened.GetOrAddTranscodedAsync(source, Digest.Of(tar), 3, chunkedSettings.FormatName, Creator(chunkedSettings), CancellationToken.None);

        Assert.False(chunked.FromCache);
        Assert.True(hit.FromCache);
        Assert.Null(plain.Blob.Descriptor.Annotations);
        Assert.NotEqual(plain.Blob.Digest, chunked.Blob.Digest);
        Assert.Equal(chunked.Blob.Digest, hit.Blob.Digest);
        Assert.NotNull(hit.Blob.Descriptor.Annotations);
        Assert.Equal(chunked.Blob.Descriptor.Annotations, hit.Blob.Descriptor.Annotations);
        Assert.True((await reopened.GetOrAddTranscodedAsync(source, Digest.Of(tar), 3, Creator(new ZstdSettings(3, 2)), CancellationToken.None)).FromCache);
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
    public async Task Corrupt_blob_bytes_are_found_when_the_blob_is_read_which_evicts_the_entry()
    {
        using var cache = NewCache();
        var first = await Get(cache);
        using (var blob = File.Open(first.Blob.FilePath, FileMode.Open, FileAccess.ReadWrite))
        {
            blob.Position = blob.Length / 2;
            blob.WriteByte(0xEE);
            blob.WriteByte(0xEE);
        }

        // The lookup does not read the blob (a destination that holds it never will).
        var hit = await Get(cache);
        Assert.True(hit.FromCache);
        Assert.Empty(_log.Warnings);

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => hit.Source.OpenAsync(CancellationToken.None));
        Assert.Equal(ErrorCodes.CacheEntryCorrupt, error.Code);
        Assert.Contains(_source.Value, error.Message);
        Assert.Contains("publish again", error.Message);
        Assert.False(File.Exists(RecordPath()));
        Assert.Empty(Blobs);

        var rebuilt = await Get(cache);
        Assert.False(rebuilt.FromCache);
        Assert.Equal(2, _creates);
        AssertValid(rebuilt);
        Assert.Equal(first.Blob.Digest, rebuilt.Blob.Digest);
        var intact = await Get(cache);
        Assert.True(intact.FromCache);
        await using (var stream = await intact.Source.OpenAsync(CancellationToken.None))
        {
            Assert.Equal(intact.Blob.Size, stream.Length);
        }
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
            Digest.Of([1, 2, 3]),
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
            _source, Digest.Of(_tar), 3, (_, ct) => Create(Path.Combine(_root, "elsewhere"), ct), CancellationToken.None));
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
            Assert.Contains("ContainerLayerCacheDirectory", PropertyNames.Render(warning.Message));
            Assert.True(cache.IsTemporary);
            fallback = cache.Directory;
            Assert.StartsWith(Path.GetTempPath(), fallback);

            var layer = await cache.GetOrAddTranscodedAsync(_source, Digest.Of(_tar), 3, Create, CancellationToken.None);
            AssertValid(layer);
            Assert.StartsWith(fallback, layer.Blob.FilePath);
            Assert.True((await cache.GetOrAddTranscodedAsync(_source, Digest.Of(_tar), 3, Create, CancellationToken.None)).FromCache);
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
    public void Default_directory_is_never_a_fixed_name_under_the_temp_folder()
    {
        // Anyone can create /tmp/zstdcontainers-<user> first and fill it; without a home there is
        // no default folder, and the cache is a private one for the build.
        var dir = LayerCache.DefaultDirectory(new Dictionary<string, string?>());

        Assert.True(dir is null || !dir.StartsWith(Path.GetTempPath(), StringComparison.Ordinal), dir);
    }

    [Fact]
    public async Task Without_a_folder_the_cache_is_private_unpredictable_and_gone_after_the_build()
    {
        string first;
        using (var cache = new LayerCache(null, _log))
        using (var second = new LayerCache(null, _log))
        {
            first = cache.Directory;
            Assert.True(cache.IsTemporary);
            Assert.NotEqual(first, second.Directory);
            Assert.DoesNotContain(Environment.UserName, Path.GetFileName(first), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(OwnerOnly, File.GetUnixFileMode(first));
            }
            AssertValid(await cache.GetOrAddTranscodedAsync(_source, Digest.Of(_tar), 3, Create, CancellationToken.None));
        }
        Assert.False(Directory.Exists(first));
        Assert.Empty(_log.Warnings);
    }

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    // Someone who can write the folder puts a record that names the right diff_id next to a blob of
    // their choosing (its own digest is consistent, so the sha256 check alone passes).
    private async Task<Digest> PoisonAsync()
    {
        var evilTar = LayerTestData.Text(10_000, seed: 99);
        var evil = await BaseLayerTranscoder.TranscodeAsync(
            new MemoryStream(LayerTestData.Gzip(evilTar)), LayerCompression.Gzip, Digest.Of(LayerTestData.Gzip(evilTar)), Digest.Of(evilTar),
            Path.Combine(_root, "evil.zst"), new ZstdSettings(3, 2), CancellationToken.None);
        Directory.CreateDirectory(Path.Combine(V1, "blobs", "sha256"));
        Directory.CreateDirectory(Path.Combine(V1, "transcoded"));
        File.Copy(evil.FilePath, Path.Combine(V1, "blobs", "sha256", evil.Digest.Hex));
        File.WriteAllText(RecordPath(), $$"""
            {"sourceDigest":"{{_source}}","level":3,"digest":"{{evil.Digest}}","size":{{evil.Size}},"diffId":"{{Digest.Of(_tar)}}","tarSize":{{_tar.Length}},"mediaType":"{{MediaTypes.OciLayerZstd}}"}
            """);
        return evil.Digest;
    }

    [Fact]
    public async Task A_folder_other_users_can_write_is_refused_so_nothing_planted_there_is_used()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        await PoisonAsync();
        File.SetUnixFileMode(CacheDir, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.StickyBit);

        var e = Assert.Throws<ZstdContainersException>(() => NewCache());

        Assert.Equal(ErrorCodes.CacheNotPrivate, e.Code);
        Assert.Contains(CacheDir, e.Message);
        Assert.Contains("other users can write", e.Message);
        Assert.Equal(0, _creates);
    }

    [Fact]
    public async Task A_folder_owned_by_another_user_is_refused()
    {
        if (OperatingSystem.IsWindows() || Environment.UserName != "root")
        {
            return; // only root can give a folder away; the test above covers non-root runs
        }
        await PoisonAsync();
        File.SetUnixFileMode(CacheDir, OwnerOnly);
        Assert.Equal(0, Chown(CacheDir, 65534, 65534));

        var e = Assert.Throws<ZstdContainersException>(() => NewCache());

        Assert.Equal(ErrorCodes.CacheNotPrivate, e.Code);
        Assert.Contains("uid 65534", e.Message);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int owner, int group);

    [Fact]
    public async Task A_folder_of_ours_others_can_only_read_is_closed_to_them_and_a_new_one_is_private()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        using (NewCache())
        {
        }
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(CacheDir));
        File.SetUnixFileMode(CacheDir, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        using var cache = NewCache();

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(CacheDir));
        AssertValid(await Get(cache));
    }

    [Fact]
    public async Task A_record_whose_diff_id_is_not_the_configs_is_not_used()
    {
        using (var cache = NewCache())
        {
            await Get(cache);
        }
        using var again = NewCache();

        var other = LayerTestData.Text(100, seed: 5);
        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => again.GetOrAddTranscodedAsync(_source, Digest.Of(other), 3, Create, CancellationToken.None));

        // Not a hit: the entry was treated as damaged, the layer transcoded again, and the mismatch
        // between the layer and the diff_id asked for is an error, not a record.
        Assert.Equal(ErrorCodes.BaseLayerDiffIdMismatch, e.Code);
        Assert.Equal(2, _creates);
        Assert.False(File.Exists(RecordPath()));
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
