using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>
/// An on-disk, content-addressed cache of transcoded base layers, so a machine recompresses each
/// base layer once per zstd level. Every hit is verified (sha256 and size of the blob) before use;
/// a damaged entry is deleted and rebuilt, never used.
/// </summary>
/// <remarks>
/// <para>Layout (the version folder means a future layout never reads old entries):</para>
/// <code>
/// &lt;directory&gt;/v1/blobs/sha256/&lt;hex&gt;                   zstd blobs, named by their digest
/// &lt;directory&gt;/v1/transcoded/&lt;source-hex&gt;.L&lt;level&gt;.json  source digest + level → blob, diff_id, sizes
/// &lt;directory&gt;/v1/tmp/                                 files being written (renamed into place when complete)
/// &lt;directory&gt;/v1/locks/                               one lock file per layer being transcoded
/// </code>
/// <para>Safe for several builds (processes) and threads at once: blobs and records appear by an
/// atomic rename of a complete file, so a reader sees a whole entry or none. A lock file per entry
/// keeps two builds from transcoding the same layer twice; the lock only saves work, correctness does
/// not depend on it.</para>
/// <para>To clear the cache, delete its directory (no build may be running), or call
/// <see cref="Clear(string)"/>.</para>
/// </remarks>
public sealed partial class LayerCache : IDisposable
{
    /// <summary>The layout version, the name of the folder every entry lives under.</summary>
    public const string FormatVersion = "v1";

    private const string Product = "zstdcontainers";
    private const int HashBufferSize = 1 << 20;
    private static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan LockPollInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan StaleTempAge = TimeSpan.FromDays(1);

    private readonly IBuildLog _log;
    private readonly TimeSpan _lockTimeout;
    private readonly string _root;
    private readonly string _blobs;
    private readonly string _records;
    private readonly string _temp;
    private readonly string _locks;

    /// <param name="directory">
    /// The cache directory: ContainerLayerCacheDirectory when the user sets it, else
    /// <see cref="DefaultDirectory(IReadOnlyDictionary{string, string?})"/>. When it cannot be created
    /// or written, the cache falls back to a fresh temporary directory for this build with a
    /// <see cref="ErrorCodes.CacheUnusable"/> warning, rather than failing the build.
    /// </param>
    public LayerCache(string directory, IBuildLog log)
        : this(directory, log, DefaultLockTimeout)
    {
    }

    /// <param name="lockTimeout">How long to wait for another build transcoding the same layer
    /// before transcoding it too; <see cref="TimeSpan.Zero"/> never waits.</param>
    internal LayerCache(string directory, IBuildLog log, TimeSpan lockTimeout)
    {
        ArgumentNullException.ThrowIfNull(log);
        _log = log;
        _lockTimeout = lockTimeout;

        string root;
        try
        {
            Directory = Path.GetFullPath(directory);
            root = Prepare(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            Directory = System.IO.Directory.CreateTempSubdirectory(Product + "-cache-").FullName;
            IsTemporary = true;
            root = Prepare(Directory);
            log.Warning(
                ErrorCodes.CacheUnusable,
                $"The layer cache directory '{directory}' cannot be used ({e.Message}). Recompressed base layers are kept in '{Directory}' for this build only, so the next build recompresses them again. Make the directory writable, or set ContainerLayerCacheDirectory to a writable folder.");
        }

        _root = root;
        _blobs = Path.Combine(root, "blobs", "sha256");
        _records = Path.Combine(root, "transcoded");
        _temp = Path.Combine(root, "tmp");
        _locks = Path.Combine(root, "locks");
        log.Detail($"Layer cache: {root}");
    }

    /// <summary>The cache directory in use: the one given, or the temporary fallback.</summary>
    public string Directory { get; }

    /// <summary>True when the given directory was unusable and a temporary one is used instead.</summary>
    public bool IsTemporary { get; }

    /// <summary>
    /// The default cache directory: <c>$XDG_CACHE_HOME/zstdcontainers</c>, else
    /// <c>~/.cache/zstdcontainers</c> on Linux and macOS; <c>%LOCALAPPDATA%\zstdcontainers</c> on
    /// Windows. The MSBuild property ContainerLayerCacheDirectory overrides it: the task layer passes
    /// that to the constructor instead of calling this.
    /// </summary>
    /// <param name="environment">The build's environment variables (XDG_CACHE_HOME, HOME, LOCALAPPDATA).</param>
    public static string DefaultDirectory(IReadOnlyDictionary<string, string?> environment) =>
        DefaultDirectory(environment, OperatingSystem.IsWindows());

    internal static string DefaultDirectory(IReadOnlyDictionary<string, string?> environment, bool windows)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (windows)
        {
            var local = Variable(environment, "LOCALAPPDATA", ignoreCase: true);
            if (string.IsNullOrEmpty(local))
            {
                local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            }
            return string.IsNullOrEmpty(local)
                ? Path.Combine(Path.GetTempPath(), Product + "-" + Environment.UserName)
                : Path.Combine(local, Product);
        }

        // The XDG base directory spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
        var xdg = Variable(environment, "XDG_CACHE_HOME", ignoreCase: false);
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, Product);
        }
        var home = Variable(environment, "HOME", ignoreCase: false);
        if (string.IsNullOrEmpty(home))
        {
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
        }
        return string.IsNullOrEmpty(home)
            ? Path.Combine(Path.GetTempPath(), Product + "-" + Environment.UserName)
            : Path.Combine(home, ".cache", Product);
    }

    /// <summary>
    /// Deletes every cache entry under <paramref name="directory"/> (each layout version folder), and
    /// the directory itself when nothing else is left in it. Files that are not the cache's are kept,
    /// so pointing this at a wrong folder does no harm. No build may use the cache meanwhile.
    /// </summary>
    public static void Clear(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return;
        }
        foreach (var version in System.IO.Directory.EnumerateDirectories(directory))
        {
            if (VersionFolder().IsMatch(Path.GetFileName(version)))
            {
                System.IO.Directory.Delete(version, recursive: true);
            }
        }
        if (!System.IO.Directory.EnumerateFileSystemEntries(directory).Any())
        {
            System.IO.Directory.Delete(directory);
        }
    }

    /// <summary>
    /// The transcoded (zstd) form of the base layer <paramref name="sourceDigest"/> at
    /// <paramref name="level"/>: from the cache when a verified entry is there, else made by
    /// <paramref name="create"/> and stored.
    /// </summary>
    /// <param name="create">
    /// Writes the blob to the path it is given (a temporary file in the cache, on the same file system)
    /// and returns it, e.g. with <see cref="BaseLayerTranscoder.TranscodeAsync(Stream, LayerCompression, Digest, Digest, string, ZstdSettings, CancellationToken)"/>.
    /// Its failures propagate unchanged and leave nothing behind.
    /// </param>
    /// <returns>The blob, whose <see cref="LayerBlob.FilePath"/> is inside the cache (or, if the cache
    /// failed to store it, a temporary file that is cleaned up later), and whether it was a hit.
    /// Callers should still compare <see cref="LayerBlob.DiffId"/> with the diff_id their image's
    /// config lists: a hit is keyed by the source digest only.</returns>
    public Task<CachedLayer> GetOrAddTranscodedAsync(
        Digest sourceDigest,
        int level,
        Func<string, CancellationToken, Task<LayerBlob>> create,
        CancellationToken ct) =>
        GetOrAddTranscodedAsync(sourceDigest, level, TranscodedRecord.PlainFormat, create, ct);

    /// <param name="format">"zstd" or "zstd:chunked": the same source and level give other blobs in each.</param>
    public async Task<CachedLayer> GetOrAddTranscodedAsync(
        Digest sourceDigest,
        int level,
        string format,
        Func<string, CancellationToken, Task<LayerBlob>> create,
        CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(level, ZstdSettings.MinLevel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, ZstdSettings.MaxLevel);
        ArgumentNullException.ThrowIfNull(create);

        var key = $"{sourceDigest.Hex}.L{level}" + (format == TranscodedRecord.PlainFormat ? string.Empty : "." + format.Replace(':', '-'));
        var recordPath = Path.Combine(_records, key + ".json");

        var (cached, _, _) = await TryGetAsync(recordPath, sourceDigest, level, format, ct).ConfigureAwait(false);
        if (cached is not null)
        {
            _log.Detail($"Layer cache hit: {sourceDigest} at level {level} is {cached.Digest}.");
            return new CachedLayer(cached, FromCache: true);
        }

        using var entryLock = await LockAsync(key, ct).ConfigureAwait(false);

        // Look again under the lock: another build may have stored it while we waited, and a damaged
        // entry is dealt with only here, so two builds never delete each other's fresh entries.
        (cached, var problem, var badBlob) = await TryGetAsync(recordPath, sourceDigest, level, format, ct).ConfigureAwait(false);
        if (cached is not null)
        {
            _log.Detail($"Layer cache hit: {sourceDigest} at level {level} is {cached.Digest} (stored by another build meanwhile).");
            return new CachedLayer(cached, FromCache: true);
        }
        if (problem is not null)
        {
            _log.Detail($"Layer cache entry {recordPath} is damaged: {problem}.");
            _log.Warning(
                ErrorCodes.CacheEntryCorrupt,
                $"The layer cache entry for base layer {sourceDigest} (level {level}) is damaged: {problem}. It was deleted and the layer is recompressed again. If this keeps happening, check the disk or clear the cache ('{Directory}').");
            TryDelete(recordPath);
            if (badBlob is not null)
            {
                TryDelete(badBlob);
            }
        }
        else
        {
            _log.Detail($"Layer cache miss: {sourceDigest} at level {level}.");
        }

        var tempBlob = Path.Combine(_temp, $"{key}.{Guid.NewGuid():N}.blob");
        LayerBlob created;
        try
        {
            created = await create(tempBlob, ct).ConfigureAwait(false);
            if (!string.Equals(Path.GetFullPath(created.FilePath), tempBlob, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The layer cache's create callback must write the blob to the path it is given ('{tempBlob}'), not '{created.FilePath}'.");
            }
        }
        catch
        {
            TryDelete(tempBlob);
            throw;
        }

        var blobPath = Path.Combine(_blobs, created.Digest.Hex);
        if (!await PublishBlobAsync(tempBlob, blobPath, created, ct).ConfigureAwait(false))
        {
            return new CachedLayer(created, FromCache: false);
        }
        WriteRecord(recordPath, TranscodedRecord.For(sourceDigest, level, format, created));
        return new CachedLayer(created with { FilePath = blobPath }, FromCache: false);
    }

    /// <summary>
    /// The file of the cached blob with this (zstd) digest, or null when the cache does not hold it.
    /// Only its existence is checked, not its bytes: read it through a stream that verifies the
    /// digest (the destinations do), as disk damage after <see cref="GetOrAddTranscodedAsync"/> is possible.
    /// </summary>
    public string? TryGetBlobPath(Digest digest)
    {
        var path = Path.Combine(_blobs, digest.Hex);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Deletes the temporary fallback directory, if one was used. Blobs it returned are gone after this.</summary>
    public void Dispose()
    {
        if (IsTemporary)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Detail($"Could not delete the temporary layer cache '{Directory}': {e.Message}");
            }
        }
    }

    // Creates the layout and proves it writable; returns the version folder.
    private static string Prepare(string directory)
    {
        var root = Path.Combine(directory, FormatVersion);
        var temp = Path.Combine(root, "tmp");
        System.IO.Directory.CreateDirectory(Path.Combine(root, "blobs", "sha256"));
        System.IO.Directory.CreateDirectory(Path.Combine(root, "transcoded"));
        System.IO.Directory.CreateDirectory(Path.Combine(root, "locks"));
        System.IO.Directory.CreateDirectory(temp);

        var probe = Path.Combine(temp, $"probe.{Guid.NewGuid():N}");
        using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
        {
            stream.WriteByte(0);
        }

        // Files a killed build left half-written. Old ones only: a running build's are fresh.
        foreach (var file in new DirectoryInfo(temp).EnumerateFiles())
        {
            try
            {
                if (DateTime.UtcNow - file.LastWriteTimeUtc > StaleTempAge)
                {
                    file.Delete();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return root;
    }

    // A verified entry; else why the entry is damaged (and its blob's path when the blob is the
    // problem); all null when there is no entry at all.
    private async Task<(LayerBlob? Blob, string? Problem, string? BadBlob)> TryGetAsync(string recordPath, Digest sourceDigest, int level, string format, CancellationToken ct)
    {
        byte[] json;
        try
        {
            json = await File.ReadAllBytesAsync(recordPath, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return (null, null, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"its record cannot be read ({e.Message})", null);
        }

        var record = TranscodedRecord.Parse(json, sourceDigest, level, format, out var problem);
        if (record is null)
        {
            return (null, problem, null);
        }

        var digest = Digest.Parse(record.Digest);
        var blobPath = Path.Combine(_blobs, digest.Hex);
        problem = await VerifyBlobAsync(blobPath, digest, record.Size, ct).ConfigureAwait(false);
        if (problem is not null)
        {
            return (null, problem, blobPath);
        }
        return (record.ToBlob(blobPath), null, null);
    }

    // Null when the file at path has exactly this digest and size, else what is wrong with it.
    private static async Task<string?> VerifyBlobAsync(string path, Digest digest, long size, CancellationToken ct)
    {
        try
        {
            var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
            await using (stream.ConfigureAwait(false))
            {
                if (stream.Length != size)
                {
                    return $"its blob {digest} has {stream.Length} bytes where {size} were recorded";
                }
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(HashBufferSize);
                try
                {
                    int read;
                    while ((read = await stream.ReadAsync(buffer.AsMemory(0, HashBufferSize), ct).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
                var actual = Digest.FromHash(hash.GetHashAndReset());
                return actual == digest ? null : $"its blob {digest} has the content of {actual}";
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return $"its blob {digest} is missing";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"its blob {digest} cannot be read ({e.Message})";
        }
    }

    // Renames the finished temp blob to its content address. False when the cache could not take it:
    // the blob then stays at its temp path for this build.
    private async Task<bool> PublishBlobAsync(string tempBlob, string blobPath, LayerBlob blob, CancellationToken ct)
    {
        try
        {
            // An atomic replace: a build that has the old file open keeps reading the old (identical) bytes.
            File.Move(tempBlob, blobPath, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Windows refuses to replace a file another build has open. The same digest there is
            // the same bytes, so ours is not needed.
            if (await VerifyBlobAsync(blobPath, blob.Digest, blob.Size, ct).ConfigureAwait(false) is null)
            {
                TryDelete(tempBlob);
                return true;
            }
            _log.Warning(
                ErrorCodes.CacheUnusable,
                $"The recompressed base layer {blob.Digest} could not be stored in the layer cache '{Directory}' ({e.Message}). This build uses it from '{tempBlob}'; the next build recompresses it again.");
            return false;
        }
    }

    // Written after its blob, by an atomic rename, so a record never points at a blob not yet there.
    private void WriteRecord(string recordPath, TranscodedRecord record)
    {
        var temp = Path.Combine(_temp, $"{Path.GetFileName(recordPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, record.ToJson());
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    File.Move(temp, recordPath, overwrite: true);
                    return;
                }
                catch (Exception e) when (attempt < 3 && e is IOException or UnauthorizedAccessException)
                {
                    // Windows: another build is reading the record this instant.
                    Thread.Sleep(50 * attempt);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            _log.Detail($"Could not write the layer cache record {recordPath}: {e.Message}. The next build recompresses the layer again.");
        }
    }

    // The lock file of one entry, held open with FileShare.None (an flock on Unix), or null when
    // waiting took too long or locking is impossible: the work is then done without it.
    private async Task<IDisposable?> LockAsync(string key, CancellationToken ct)
    {
        var path = Path.Combine(_locks, key + ".lock");
        var waited = Stopwatch.StartNew();
        var announced = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
            {
                if (waited.Elapsed >= _lockTimeout)
                {
                    _log.Detail($"Gave up waiting after {waited.Elapsed.TotalSeconds:0} s for the build holding {path}; recompressing the layer here too.");
                    return null;
                }
                if (!announced)
                {
                    _log.Detail($"Waiting for another build that is recompressing the same base layer ({path}).");
                    announced = true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Detail($"Cannot lock {path} ({e.Message}); recompressing without the lock.");
                return null;
            }
            await Task.Delay(LockPollInterval, ct).ConfigureAwait(false);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string? Variable(IReadOnlyDictionary<string, string?> environment, string name, bool ignoreCase)
    {
        if (environment.TryGetValue(name, out var value))
        {
            return value;
        }
        return ignoreCase
            ? environment.FirstOrDefault(pair => string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase)).Value
            : null;
    }

    [GeneratedRegex("^v[0-9]+$")]
    private static partial Regex VersionFolder();
}
