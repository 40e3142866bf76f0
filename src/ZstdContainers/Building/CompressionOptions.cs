using ZstdContainers.Layers;

namespace ZstdContainers.Building;

/// <summary>
/// How the layers we write are compressed and where recompressed base layers are kept. The task
/// layer (ZstdContainers.Tasks, CompressionSettings) reads these from the user's settings.
/// </summary>
public sealed record CompressionOptions
{
    public bool UseZstd { get; init; }

    /// <summary>Every layer we write is zstd:chunked (implies <see cref="UseZstd"/>).</summary>
    public bool Chunked { get; init; }

    public int Level { get; init; } = ZstdSettings.DefaultLevel;

    public bool RecompressBaseLayers { get; init; } = true;

    /// <summary>The layer cache folder, or null for the per-user default.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The zstd level of recompressed base layers, which
    /// are paid once per registry. Null: <see cref="DefaultBaseLevel"/>.</summary>
    public int? BaseLevel { get; init; }

    /// <summary>
    /// The base layer level when none is set, chosen by measurement (README, Performance): the
    /// highest level whose first publish to an empty registry stays within 3x the SDK's on 2 cores
    /// with a margin (7: 2.7x; 8: 2.8x; 9: 3.2x), while its image still pulls through a 400 Mbit/s
    /// link in under 0.70x the SDK image's time (7: 0.68x).
    /// </summary>
    public const int DefaultBaseLevel = 7;

    /// <summary>The level for recompressed base layers.</summary>
    public int EffectiveBaseLevel => BaseLevel ?? DefaultBaseLevel;

    /// <summary>Images whose zstd layers may be reused by diff_id, looked in after the tags being pushed.</summary>
    public IReadOnlyList<string> CacheFrom { get; init; } = [];

    /// <summary>
    /// Where the per-RID builds of a multi-RID archive or daemon publish leave their blobs for the
    /// index step: a folder under the project's obj/. Null: under the layer cache folder.
    /// </summary>
    public string? HandOffDirectory { get; init; }

    /// <summary>
    /// The project's record of what its app layers' tars hashed to (<see cref="Caching.AppLayerRecords"/>):
    /// a file under the project's obj/. Null: none, every part is hashed.
    /// </summary>
    public string? AppLayerRecordFile { get; init; }
}
