using System.Security.Cryptography;
using System.Text;

namespace ZstdContainers.Layers;

/// <summary>
/// A key over everything that decides the bytes of one app layer's tar, read from file metadata
/// (one stat per entry; only files of up to 64 KiB are read): the writer's code, the entry policy
/// (timestamp, owner, modes), the container directory, the part's selection and, for every entry in
/// it, its path, kind, size, mode (and link target), and a small file's content hash or a larger
/// file's last-write time. Two publish folders with the same key give the same tar unless a large
/// file's content changed while its size and last-write time did not, which is what MSBuild's own
/// incremental build assumes too.
/// </summary>
/// <param name="Key">Hex sha256 of the description above.</param>
/// <param name="Settled">False when some entry was written too recently to trust its timestamp
/// (it could change again within the same clock tick): such a key is used, never recorded.</param>
public sealed record AppLayerFingerprint(string Key, bool Settled)
{
    // Younger than this, a last-write time may not yet tell a later write apart (coarse file system
    // clocks tick in up to 2 s).
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    // Up to this size a file's content is hashed instead of trusting its timestamp.
    private const long SmallFile = 64 * 1024;

    // The writer's assembly: a new build of the tar code may write other bytes for the same files.
    private static readonly string WriterVersion = typeof(DirectoryLayerWriter).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    /// <returns>Null when some entry cannot be read: the caller hashes the tar, which reports it.</returns>
    public static AppLayerFingerprint? Compute(
        string publishDirectory, string containerDirectory, LayerEntryPolicy policy, IReadOnlySet<string>? selection, CancellationToken ct)
    {
        var started = DateTime.UtcNow;
        var settled = true;
        var text = new StringBuilder();
        text.Append("zstdcontainers app-layer fingerprint v1\n")
            .Append(WriterVersion).Append('\n')
            .Append(containerDirectory).Append('\n')
            .Append(policy.Timestamp.ToUnixTimeSeconds()).Append(' ').Append(policy.OwnerId).Append(' ').Append(policy.GroupId).Append(' ')
            .Append((int)policy.DirectoryPermissions).Append(' ').Append((int)policy.FilePermissions(false)).Append(' ').Append((int)policy.FilePermissions(true)).Append('\n')
            .Append(selection is null ? "whole folder\n" : "selection\n");
        try
        {
            AppendEntries(text, publishDirectory, selection, started, ref settled, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        return new AppLayerFingerprint(key, settled);
    }

    private static void AppendEntries(StringBuilder text, string publishDirectory, IReadOnlySet<string>? selection, DateTime started, ref bool settled, CancellationToken ct)
    {
        foreach (var (relativePath, info) in FolderEntries.EnumerateSorted(Path.GetFullPath(publishDirectory), ct))
        {
            if (selection is not null && !selection.Contains(relativePath))
            {
                continue;
            }
            var kind = FolderEntries.KindOf(info);
            // Lengths first, so no path or link target can run into the next field.
            text.Append(relativePath.Length).Append(':').Append(relativePath).Append(' ').Append((int)kind);
            switch (kind)
            {
                case UnixFileKind.SymbolicLink:
                    var target = info.LinkTarget ?? string.Empty;
                    text.Append(' ').Append(target.Length).Append(':').Append(target);
                    break;
                case UnixFileKind.RegularFile:
                    var file = (FileInfo)info;
                    text.Append(' ').Append(file.Length);
                    if (file.Length <= SmallFile)
                    {
                        // Small files are keyed by content: reading them is cheap, and the SDK
                        // rewrites some on every publish (web.config) with the same bytes.
                        text.Append(" c").Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName))));
                    }
                    else
                    {
                        var written = file.LastWriteTimeUtc;
                        settled &= started - written >= SettleTime;
                        text.Append(" t").Append(written.Ticks);
                    }
                    if (!OperatingSystem.IsWindows())
                    {
                        text.Append(' ').Append((int)file.UnixFileMode);
                    }
                    break;
            }
            text.Append('\n');
        }
    }
}
