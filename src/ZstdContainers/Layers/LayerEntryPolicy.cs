namespace ZstdContainers.Layers;

/// <summary>
/// What every tar entry of a layer we build looks like apart from its name and content: fixed
/// owner, fixed modes (only the execute bit comes from the file system) and one timestamp, so the
/// same files always give the same bytes.
/// </summary>
public sealed record LayerEntryPolicy
{
    private const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101; // 0755
    private const UnixFileMode FileMode = (UnixFileMode)0b110_100_100;      // 0644
    private const UnixFileMode ExecutableMode = (UnixFileMode)0b111_101_101; // 0755

    /// <summary>
    /// One second past the epoch when SOURCE_DATE_EPOCH is unset: some tools read a zero mtime as
    /// "unknown", and any constant is as reproducible as another.
    /// </summary>
    public static readonly DateTimeOffset DefaultTimestamp = DateTimeOffset.FromUnixTimeSeconds(1);

    public DateTimeOffset Timestamp { get; init; } = DefaultTimestamp;

    public int OwnerId { get; init; }

    public int GroupId { get; init; }

    public UnixFileMode DirectoryPermissions => DirectoryMode;

    public UnixFileMode FilePermissions(bool executable) => executable ? ExecutableMode : FileMode;

    /// <summary>Reads SOURCE_DATE_EPOCH (seconds since the epoch) as reproducible-builds.org defines it.</summary>
    public static LayerEntryPolicy FromEnvironment(string? sourceDateEpoch)
    {
        if (string.IsNullOrWhiteSpace(sourceDateEpoch))
        {
            return new LayerEntryPolicy();
        }
        if (!long.TryParse(sourceDateEpoch.Trim(), out var seconds) || seconds < 0)
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidSourceDateEpoch,
                $"SOURCE_DATE_EPOCH is '{sourceDateEpoch}', which is not a whole number of seconds since 1970-01-01. Set it to a non-negative integer (for example the commit time: git log -1 --format=%ct) or unset it.");
        }
        return new LayerEntryPolicy { Timestamp = DateTimeOffset.FromUnixTimeSeconds(seconds) };
    }
}
