using System.Text.Json;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>
/// The entries of one <see cref="LayerCache"/> layout folder: a record per (source digest, level,
/// format) naming a zstd blob by its digest. Reads an entry with the cheap checks (record, diff_id,
/// the blob's size), makes the check of a blob's bytes that is put off until a destination reads
/// them, and deletes a damaged entry, so the next publish recompresses its layer.
/// </summary>
internal sealed class TranscodedEntries
{
    private readonly string _cacheDirectory;
    private readonly IBuildLog _log;

    /// <param name="root">The layout folder (<c>&lt;directory&gt;/v1</c>).</param>
    /// <param name="cacheDirectory">The cache directory as the user knows it, for messages.</param>
    public TranscodedEntries(string root, string cacheDirectory, IBuildLog log)
    {
        Blobs = Path.Combine(root, "blobs", "sha256");
        Records = Path.Combine(root, "transcoded");
        _cacheDirectory = cacheDirectory;
        _log = log;
    }

    /// <summary>Where zstd blobs are kept, named by the hex of their digest.</summary>
    public string Blobs { get; }

    /// <summary>Where the records are kept, one JSON file per key.</summary>
    public string Records { get; }

    public string BlobPath(Digest digest) => Path.Combine(Blobs, digest.Hex);

    public string RecordPath(Digest sourceDigest, int level, string format) => Path.Combine(Records, Key(sourceDigest, level, format) + ".json");

    public static string Key(Digest sourceDigest, int level, string format) =>
        $"{sourceDigest.Hex}.L{level}" + (format == TranscodedRecord.PlainFormat ? string.Empty : "." + format.Replace(':', '-'));

    /// <summary>
    /// A verified entry; else why the entry is damaged (and its blob's path when the blob is the
    /// problem); all null when there is no entry at all. The blob's bytes are not read.
    /// </summary>
    public async Task<(LayerBlob? Blob, string? Problem, string? BadBlob)> TryReadAsync(
        string recordPath, Digest sourceDigest, Digest diffId, int level, string format, CancellationToken ct)
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
        if (record.DiffId != diffId.Value)
        {
            return (null, $"its record gives diff_id {record.DiffId} where the base image's config lists {diffId}", null);
        }

        var digest = Digest.Parse(record.Digest);
        var blobPath = BlobPath(digest);
        // Size only (a stat): the bytes are checked when they are read (DeferredCheck).
        problem = BlobFile.CheckSize(blobPath, digest, record.Size);
        if (problem is not null)
        {
            return (null, problem, blobPath);
        }
        return (record.ToBlob(blobPath), null, null);
    }

    /// <summary>
    /// The check of a cached blob's bytes, to run when a destination reads them. A damaged blob is
    /// deleted with every record that names it, and the check fails with <see cref="ErrorCodes.CacheEntryCorrupt"/>.
    /// </summary>
    /// <param name="what">The entry as the message names it, e.g. "base layer sha256:… (level 9)".</param>
    public Func<CancellationToken, Task> DeferredCheck(Digest digest, long size, string what) => async ct =>
    {
        var problem = await BlobFile.VerifyAsync(BlobPath(digest), digest, size, ct).ConfigureAwait(false);
        if (problem is null)
        {
            return;
        }
        Evict(digest, problem);
        throw new ZstdContainersException(
            ErrorCodes.CacheEntryCorrupt,
            $"The layer cache entry for {what} is damaged: {problem}, found while reading it to ship it. The entry was deleted; publish again and the layer is recompressed. If this keeps happening, check the disk or clear the cache ('{_cacheDirectory}').");
    };

    // Deletes the blob and every record naming it. Records are few (one per base layer and level),
    // so reading them all is cheap, and it happens only when something is already wrong.
    private void Evict(Digest digest, string problem)
    {
        _log.Detail($"Layer cache blob {digest} is damaged: {problem}; deleted with the records naming it.");
        BlobFile.TryDelete(BlobPath(digest));
        string[] records;
        try
        {
            records = Directory.GetFiles(Records, "*.json");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // a record left naming a missing blob is found by its size check and rebuilt
        }
        foreach (var recordPath in records)
        {
            if (NamesBlob(recordPath, digest))
            {
                BlobFile.TryDelete(recordPath);
            }
        }
    }

    private static bool NamesBlob(string recordPath, Digest digest)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(recordPath));
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("digest", out var named)
                && named.ValueKind == JsonValueKind.String
                && named.GetString() == digest.Value;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return false;
        }
    }
}
