using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>
/// An on-disk, content-addressed cache of transcoded base layers, so a machine recompresses each
/// base layer once per zstd level.
/// </summary>
/// <remarks>
/// <para>Layout (the version folder means a future layout never reads old entries):</para>
/// <code>
/// &lt;directory&gt;/v1/blobs/sha256/&lt;hex&gt;                   zstd blobs, named by their digest
/// &lt;directory&gt;/v1/transcoded/&lt;source-hex&gt;.L&lt;level&gt;.json  source digest + level → blob, diff_id, sizes
/// &lt;directory&gt;/v1/tmp/                                 files being written (renamed into place when complete)
/// &lt;directory&gt;/v1/locks/                               one lock file per layer being transcoded
/// </code>
/// <para>What is trusted, and why: the folder is private to this user (<see cref="CacheFolder"/>
/// refuses one that another user owns or can write), and a record is written only after the
/// transcoder has checked that the blob decompresses to the diff_id the base image's config lists.
/// So a record's diff_id was verified by us. A hit checks the blob's size against the record (a
/// stat) and the record's diff_id against the config at once; the blob's sha256 (disk damage, a
/// half-restored cache) only when its bytes are read (<see cref="CachedLayer.DeferredCheck"/>), so a
/// blob the registry already holds costs no read. It never decompresses the blob again.</para>
/// <para>Safe for several builds (processes) and threads at once: blobs and records appear by an
/// atomic rename of a complete file, so a reader sees a whole entry or none.</para>
/// </remarks>
public sealed class LayerCache : IDisposable
{
    /// <summary>The layout version, the name of the folder every entry lives under.</summary>
    public const string FormatVersion = "v1";

    private static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromMinutes(10);

    private readonly IBuildLog _log;
    private readonly TimeSpan _lockTimeout;
    private readonly TranscodedEntries _entries;
    private readonly string _temp;
    private readonly string _locks;

    /// <param name="directory">
    /// The cache directory: the user's choice when they make one, else
    /// <see cref="DefaultDirectory(IReadOnlyDictionary{string, string?})"/>; null for a private
    /// folder for this build only. When it cannot be created or written, the cache falls back to a
    /// fresh private temporary folder with a <see cref="ErrorCodes.CacheUnusable"/> warning.
    /// </param>
    /// <exception cref="ZstdContainersException">The directory is not private to this user (<see cref="ErrorCodes.CacheNotPrivate"/>).</exception>
    public LayerCache(string? directory, IBuildLog log)
        : this(directory, log, DefaultLockTimeout)
    {
    }

    /// <param name="lockTimeout">How long to wait for another build transcoding the same layer
    /// before transcoding it too; <see cref="TimeSpan.Zero"/> never waits.</param>
    internal LayerCache(string? directory, IBuildLog log, TimeSpan lockTimeout)
    {
        ArgumentNullException.ThrowIfNull(log);
        _log = log;
        _lockTimeout = lockTimeout;

        string root;
        if (directory is null)
        {
            Directory = CacheFolder.CreateTemporary();
            IsTemporary = true;
            root = CacheFolder.Prepare(Directory, FormatVersion);
        }
        else
        {
            try
            {
                Directory = Path.GetFullPath(directory);
                root = CacheFolder.Prepare(Directory, FormatVersion);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Directory = CacheFolder.CreateTemporary();
                IsTemporary = true;
                root = CacheFolder.Prepare(Directory, FormatVersion);
                log.Warning(
                    ErrorCodes.CacheUnusable,
                    $"The layer cache directory '{directory}' cannot be used ({e.Message}). Recompressed base layers are kept in '{Directory}' for this build only, so the next build recompresses them again. Make the directory writable, or set {UserSetting.LayerCacheDirectory} to a writable folder.");
            }
        }

        _entries = new TranscodedEntries(root, Directory, log);
        _temp = Path.Combine(root, "tmp");
        _locks = Path.Combine(root, "locks");
        log.Detail($"Layer cache: {root}");
    }

    /// <summary>The cache directory in use: the one given, or the temporary fallback.</summary>
    public string Directory { get; }

    /// <summary>True when a private temporary folder is used for this build only.</summary>
    public bool IsTemporary { get; }

    /// <summary>
    /// The default cache directory: <c>$XDG_CACHE_HOME/zstdcontainers</c>, else
    /// <c>~/.cache/zstdcontainers</c> on Linux and macOS; <c>%LOCALAPPDATA%\zstdcontainers</c> on
    /// Windows; null when the user has no home folder (each build then uses a private temporary one).
    /// </summary>
    /// <param name="environment">The build's environment variables (XDG_CACHE_HOME, HOME, LOCALAPPDATA).</param>
    public static string? DefaultDirectory(IReadOnlyDictionary<string, string?> environment) =>
        CacheFolder.Default(environment, OperatingSystem.IsWindows());

    internal static string? DefaultDirectory(IReadOnlyDictionary<string, string?> environment, bool windows) =>
        CacheFolder.Default(environment, windows);

    /// <summary>
    /// Deletes every cache entry under <paramref name="directory"/> (each layout version folder), and
    /// the directory itself when nothing else is left in it. Files that are not the cache's are kept,
    /// so pointing this at a wrong folder does no harm. No build may use the cache meanwhile.
    /// </summary>
    public static void Clear(string directory) => CacheFolder.Clear(directory);

    /// <summary>
    /// The transcoded (zstd) form of the base layer <paramref name="sourceDigest"/>, whose tar is
    /// <paramref name="diffId"/>, at <paramref name="level"/>: from the cache when a verified entry is
    /// there, else made by <paramref name="create"/> and stored.
    /// </summary>
    public Task<CachedLayer> GetOrAddTranscodedAsync(
        Digest sourceDigest,
        Digest diffId,
        int level,
        Func<string, CancellationToken, Task<LayerBlob>> create,
        CancellationToken ct) =>
        GetOrAddTranscodedAsync(sourceDigest, diffId, level, TranscodedRecord.PlainFormat, create, ct);

    /// <param name="sourceDigest">The base layer as the registry holds it.</param>
    /// <param name="diffId">What the base image's config says its tar hashes to: an entry is stored
    /// only when the created blob has this diff_id, and used only when its record says so.</param>
    /// <param name="level">The zstd level.</param>
    /// <param name="format">"zstd" or "zstd:chunked": the same source and level give other blobs in each.</param>
    /// <param name="create">
    /// Writes the blob to the path it is given (a temporary file in the cache, on the same file system)
    /// and returns it, e.g. with <see cref="BaseLayerTranscoder"/>, which verifies the diff_id of the
    /// bytes it compresses. Its failures propagate unchanged and leave nothing behind.
    /// </param>
    /// <param name="ct">Cancels the wait and the work.</param>
    /// <returns>The blob, whose <see cref="LayerBlob.FilePath"/> is inside the cache (or, if the cache
    /// failed to store it, a temporary file that is cleaned up later), and whether it was a hit.</returns>
    public async Task<CachedLayer> GetOrAddTranscodedAsync(
        Digest sourceDigest,
        Digest diffId,
        int level,
        string format,
        Func<string, CancellationToken, Task<LayerBlob>> create,
        CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(level, ZstdSettings.MinLevel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, ZstdSettings.MaxLevel);
        ArgumentNullException.ThrowIfNull(create);

        var key = TranscodedEntries.Key(sourceDigest, level, format);
        var recordPath = _entries.RecordPath(sourceDigest, level, format);

        var (cached, _, _) = await _entries.TryReadAsync(recordPath, sourceDigest, diffId, level, format, ct).ConfigureAwait(false);
        if (cached is not null)
        {
            _log.Detail($"Layer cache hit: {sourceDigest} at level {level} is {cached.Digest}.");
            return Hit(sourceDigest, level, cached);
        }

        using var entryLock = await EntryLock.AcquireAsync(Path.Combine(_locks, key + ".lock"), _lockTimeout, _log, ct).ConfigureAwait(false);

        // Look again under the lock: another build may have stored it while we waited, and a damaged
        // entry is dealt with only here, so two builds never delete each other's fresh entries.
        (cached, var problem, var badBlob) = await _entries.TryReadAsync(recordPath, sourceDigest, diffId, level, format, ct).ConfigureAwait(false);
        if (cached is not null)
        {
            _log.Detail($"Layer cache hit: {sourceDigest} at level {level} is {cached.Digest} (stored by another build meanwhile).");
            return Hit(sourceDigest, level, cached);
        }
        if (problem is not null)
        {
            _log.Detail($"Layer cache entry {recordPath} is damaged: {problem}.");
            _log.Warning(
                ErrorCodes.CacheEntryCorrupt,
                $"The layer cache entry for base layer {sourceDigest} (level {level}) is damaged: {problem}. It was deleted and the layer is recompressed again. If this keeps happening, check the disk or clear the cache ('{Directory}').");
            BlobFile.TryDelete(recordPath);
            if (badBlob is not null)
            {
                BlobFile.TryDelete(badBlob);
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
            if (created.DiffId != diffId)
            {
                // Never record what we did not verify: the record's diff_id is what later hits trust.
                throw new ZstdContainersException(
                    ErrorCodes.BaseLayerDiffIdMismatch,
                    $"Base layer {sourceDigest} holds a tar whose diff_id is {created.DiffId}, but the base image's config lists {diffId} for it: the base image's config does not describe its layers. Re-push the base image, or set {UserSetting.RecompressBaseLayers}=false to ship its layers as they are.");
            }
        }
        catch
        {
            BlobFile.TryDelete(tempBlob);
            throw;
        }

        var blobPath = _entries.BlobPath(created.Digest);
        if (!await PublishBlobAsync(tempBlob, blobPath, created, ct).ConfigureAwait(false))
        {
            return new CachedLayer(created, FromCache: false);
        }
        // Written after its blob, so a record never points at a blob not yet there.
        TranscodedRecord.For(sourceDigest, level, format, created).Write(recordPath, _temp, _log);
        return new CachedLayer(created with { FilePath = blobPath }, FromCache: false);
    }

    /// <summary>
    /// The verified entry for this base layer, or null (a miss, or a damaged entry, which
    /// <see cref="GetOrAddTranscodedAsync(Digest, Digest, int, string, Func{string, CancellationToken, Task{LayerBlob}}, CancellationToken)"/>
    /// deals with). Looks only; never creates.
    /// </summary>
    public async Task<CachedLayer?> TryGetTranscodedAsync(Digest sourceDigest, Digest diffId, int level, string format, CancellationToken ct)
    {
        var recordPath = _entries.RecordPath(sourceDigest, level, format);
        var (cached, _, _) = await _entries.TryReadAsync(recordPath, sourceDigest, diffId, level, format, ct).ConfigureAwait(false);
        return cached is null ? null : Hit(sourceDigest, level, cached);
    }

    // A hit, with the check of its bytes put off until a destination reads them. A damaged blob
    // found then is evicted (blob and records), so the next publish recompresses the layer.
    private CachedLayer Hit(Digest sourceDigest, int level, LayerBlob blob) =>
        new(blob, FromCache: true, _entries.DeferredCheck(blob.Digest, blob.Size, $"base layer {sourceDigest} (level {level})"));

    /// <summary>
    /// The cached blob with this (zstd) digest, as a destination reads it, or null when the cache does
    /// not hold it. Only its existence is checked now; its bytes are checked when a destination reads
    /// them (<see cref="FileBlobSource.DeferredCheck"/>), and a damaged blob then fails with
    /// <see cref="ErrorCodes.CacheEntryCorrupt"/> and is deleted with its records, as for a hit of
    /// <see cref="GetOrAddTranscodedAsync(Digest, Digest, int, string, Func{string, CancellationToken, Task{LayerBlob}}, CancellationToken)"/>.
    /// </summary>
    /// <param name="size">The blob's size as the image lists it.</param>
    public FileBlobSource? TryGetBlob(Digest digest, long size) =>
        TryGetBlobPath(digest) is { } path
            ? new FileBlobSource(path) { DeferredCheck = _entries.DeferredCheck(digest, size, $"the recompressed base layer {digest}") }
            : null;

    /// <summary>
    /// The file of the cached blob with this (zstd) digest, or null when the cache does not hold it.
    /// Only its existence is checked, not its bytes: read it through a stream that verifies the
    /// digest (the destinations do), as disk damage after <see cref="GetOrAddTranscodedAsync(Digest, Digest, int, string, Func{string, CancellationToken, Task{LayerBlob}}, CancellationToken)"/> is possible.
    /// </summary>
    public string? TryGetBlobPath(Digest digest)
    {
        var path = _entries.BlobPath(digest);
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
            if (await BlobFile.VerifyAsync(blobPath, blob.Digest, blob.Size, ct).ConfigureAwait(false) is null)
            {
                BlobFile.TryDelete(tempBlob);
                return true;
            }
            _log.Warning(
                ErrorCodes.CacheUnusable,
                $"The recompressed base layer {blob.Digest} could not be stored in the layer cache '{Directory}' ({e.Message}). This build uses it from '{tempBlob}'; the next build recompresses it again.");
            return false;
        }
    }
}
