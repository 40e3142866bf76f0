using System.Security.Cryptography;

namespace ZstdContainers.Layers;

/// <summary>What a file looked like when its content was hashed: size, last-write time (ticks, UTC) and Unix mode.</summary>
public readonly record struct FileStamp(long Size, long WriteTicks, int Mode)
{
    public static FileStamp Of(FileInfo file) =>
        new(file.Length, file.LastWriteTimeUtc.Ticks, OperatingSystem.IsWindows() ? 0 : (int)file.UnixFileMode);
}

/// <summary>A small file's content hash and the stamp it was taken under.</summary>
public readonly record struct StampedHash(FileStamp Stamp, string Sha256);

/// <summary>
/// The content hashes of a publish folder's small files, each kept with the stamp (size, last-write
/// time, mode) the file had when it was read, as git's index keeps a file's stat beside its blob id:
/// a file whose stamp is as recorded is not read again, one whose stamp moved is read and hashed (so
/// the SDK rewriting web.config with the same bytes costs one read, and the next publish none).
/// </summary>
/// <remarks>
/// Racy-clean guard: a hash is kept only when the file was last written at least
/// <see cref="SettleTime"/> before the walk that read it began. A file written later could be written
/// again within the same tick of a coarse file-system clock, same size, without its stamp moving.
/// What this trusts otherwise is what MSBuild's incremental build trusts: that a write moves a
/// file's size or last-write time.
/// </remarks>
public sealed class SmallFileHashes
{
    /// <summary>Younger than this, a last-write time may not yet tell a later write apart (coarse clocks tick in up to 2 s).</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyDictionary<string, StampedHash> _known;
    private readonly Dictionary<string, StampedHash> _kept = new(StringComparer.Ordinal);

    public SmallFileHashes(IReadOnlyDictionary<string, StampedHash>? known = null)
    {
        _known = known ?? new Dictionary<string, StampedHash>();
    }

    /// <summary>How many files <see cref="HashOf"/> had to read.</summary>
    public int FilesRead { get; private set; }

    /// <summary>The hashes worth keeping after this walk: the files seen in it whose stamp has settled.</summary>
    public IReadOnlyDictionary<string, StampedHash> Kept => _kept;

    /// <summary>True when <see cref="Kept"/> differs from what was loaded (so the record is worth writing).</summary>
    public bool Changed => _kept.Count != _known.Count || _kept.Any(k => !_known.TryGetValue(k.Key, out var known) || known != k.Value);

    /// <summary>The hex sha256 of <paramref name="file"/>'s content, read only when its stamp is not the recorded one.</summary>
    /// <param name="walkStarted">When the walk that produced <paramref name="file"/>'s metadata began.</param>
    public string HashOf(string relativePath, FileInfo file, DateTime walkStarted)
    {
        var stamp = FileStamp.Of(file);
        if (_known.TryGetValue(relativePath, out var known) && known.Stamp == stamp)
        {
            _kept[relativePath] = known;
            return known.Sha256;
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName)));
        FilesRead++;
        if (walkStarted - file.LastWriteTimeUtc >= SettleTime)
        {
            _kept[relativePath] = new StampedHash(stamp, hash);
        }
        return hash;
    }
}
