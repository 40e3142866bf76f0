namespace ZstdContainers.Layers;

/// <summary>
/// The encoder settings of every zstd blob we write. zstd's multi-threaded mode gives the same
/// bytes for any worker count of one or more (it differs from single-threaded mode), so we always
/// run it with at least one worker: digests then stay the same on a 2-core CI runner and a
/// 64-core workstation.
/// </summary>
public sealed record ZstdSettings
{
    public const int MinLevel = 1;
    public const int MaxLevel = 22;
    public const int DefaultLevel = 3;

    public ZstdSettings(int level = DefaultLevel, int? workers = null)
    {
        if (level is < MinLevel or > MaxLevel)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, $"zstd levels run from {MinLevel} to {MaxLevel}.");
        }
        Level = level;
        Workers = Math.Max(1, workers ?? Environment.ProcessorCount);
    }

    public int Level { get; }

    /// <summary>
    /// zstd:chunked (one frame per file, a table of contents, for partial pulls) instead of one
    /// zstd stream; see <see cref="ZstdChunked.ZstdChunkedBlobWriter"/>.
    /// </summary>
    public bool Chunked { get; init; }

    /// <summary>"zstd" or "zstd:chunked", for logs and cache keys.</summary>
    public string FormatName => Chunked ? "zstd:chunked" : "zstd";

    /// <summary>Encoder threads; never 0, see the type's remarks.</summary>
    public int Workers { get; }

    /// <summary>
    /// The bytes each worker compresses at a time, fixed for the fast levels (1–9): zstd's default
    /// there keeps about 110 MB of buffers for 2 workers; 4 MiB jobs need about 80 MB, run a little
    /// faster and cost 0.2% in size (eng/bench, level 3). Higher levels keep zstd's own job size,
    /// which grows with their window. A fixed value, so the bytes never depend on the machine.
    /// </summary>
    public int? JobSize => Level <= 9 ? 4 << 20 : null;
}
