using System.Security.Cryptography;
using System.Text;

namespace ZstdContainers.Layers;

/// <summary>
/// A key over everything that decides the bytes of one app layer's tar, read from file metadata
/// (one walk for all parts; a file of up to 64 KiB is read only when its size, last-write time or
/// mode moved since its hash was recorded, see <see cref="SmallFileHashes"/>): the writer's code,
/// the entry policy (timestamp, owner, modes), the container directory, the part's selection and,
/// for every entry in it, its path, kind, size, mode (and link target), and a small file's content
/// hash or a larger file's last-write time. Two publish folders with the same key give the same tar
/// unless a file's content changed while its size, last-write time and mode did not, which is what
/// MSBuild's own incremental build assumes too.
/// </summary>
/// <param name="Key">Hex sha256 of the description above.</param>
/// <param name="Settled">False when some entry was written too recently to trust its timestamp
/// (it could change again within the same clock tick): such a key is used, never recorded.</param>
public sealed record AppLayerFingerprint(string Key, bool Settled)
{
    // Up to this size a file's content is hashed instead of trusting its timestamp.
    internal const long SmallFile = 64 * 1024;

    // The writer's assembly: a new build of the tar code may write other bytes for the same files.
    private static readonly string WriterVersion = typeof(DirectoryLayerWriter).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    /// <summary>
    /// The key of every part, from one pass over <paramref name="snapshot"/>'s entries (a small file's
    /// content hash comes from <paramref name="hashes"/>, which reads it only when its stamp moved).
    /// </summary>
    /// <returns>One key per part, in order; all null when some entry cannot be read: the caller hashes
    /// the tar, which reports it.</returns>
    public static IReadOnlyList<AppLayerFingerprint?> ComputeAll(
        PublishFolderSnapshot snapshot, IReadOnlyList<AppLayerPart> parts, string containerDirectory, LayerEntryPolicy policy, SmallFileHashes hashes, CancellationToken ct)
    {
        var texts = parts.Select(part => Header(containerDirectory, policy, part.Selection)).ToList();
        var settled = new bool[parts.Count];
        Array.Fill(settled, true);
        try
        {
            var line = new StringBuilder();
            foreach (var (relativePath, info) in snapshot.Entries)
            {
                ct.ThrowIfCancellationRequested();
                line.Clear();
                var lineSettled = true;
                for (var i = 0; i < parts.Count; i++)
                {
                    if (parts[i].Selection is { } selection && !selection.Contains(relativePath))
                    {
                        continue;
                    }
                    if (line.Length == 0)
                    {
                        lineSettled = AppendEntry(line, relativePath, info, snapshot.TakenAt, hashes);
                    }
                    texts[i].Append(line);
                    settled[i] &= lineSettled;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new AppLayerFingerprint?[parts.Count];
        }
        return [.. texts.Select((text, i) => new AppLayerFingerprint(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))), settled[i]))];
    }

    private static StringBuilder Header(string containerDirectory, LayerEntryPolicy policy, IReadOnlySet<string>? selection) =>
        new StringBuilder()
            .Append("zstdcontainers app-layer fingerprint v1\n")
            .Append(WriterVersion).Append('\n')
            .Append(containerDirectory).Append('\n')
            .Append(policy.Timestamp.ToUnixTimeSeconds()).Append(' ').Append(policy.OwnerId).Append(' ').Append(policy.GroupId).Append(' ')
            .Append((int)policy.DirectoryPermissions).Append(' ').Append((int)policy.FilePermissions(false)).Append(' ').Append((int)policy.FilePermissions(true)).Append('\n')
            .Append(selection is null ? "whole folder\n" : "selection\n");

    // One entry's line; false when it is a large file written too recently to trust its timestamp.
    private static bool AppendEntry(StringBuilder text, string relativePath, FileSystemInfo info, DateTime walkStarted, SmallFileHashes hashes)
    {
        var settled = true;
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
                    // Small files are keyed by content: the SDK rewrites some on every publish
                    // (web.config) with the same bytes. Read only when their stamp moved.
                    text.Append(" c").Append(hashes.HashOf(relativePath, file, walkStarted));
                }
                else
                {
                    var written = file.LastWriteTimeUtc;
                    settled = walkStarted - written >= SmallFileHashes.SettleTime;
                    text.Append(" t").Append(written.Ticks);
                }
                if (!OperatingSystem.IsWindows())
                {
                    text.Append(' ').Append((int)file.UnixFileMode);
                }
                break;
        }
        text.Append('\n');
        return settled;
    }
}
