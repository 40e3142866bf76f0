namespace ZstdContainers.Layers;

/// <summary>
/// The entries of a folder as a layer sees them: every file, directory and link below it, depth
/// first, with '/' separators, in ordinal order of the full relative path (so the order never
/// depends on the file system). Shared by the layer writer and the layer partitioner so both
/// see the same entries.
/// </summary>
public static class FolderEntries
{
    /// <summary>
    /// Walks only real directories, never a link to one: a link is an entry of its own, so
    /// <c>data -> /home/me/secrets</c> adds nothing of that folder and <c>loop -> .</c> ends.
    /// </summary>
    public static List<(string RelativePath, FileSystemInfo Info)> EnumerateSorted(string directory, CancellationToken cancellationToken = default)
    {
        var root = new DirectoryInfo(directory);
        var entries = new List<(string, FileSystemInfo)>();
        var pending = new Stack<DirectoryInfo>();
        pending.Push(root);
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, ReturnSpecialDirectories = false };
        while (pending.TryPop(out var folder))
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var info in folder.EnumerateFileSystemInfos("*", options))
            {
                var relativePath = Path.GetRelativePath(root.FullName, info.FullName).Replace('\\', '/');
                if (relativePath.Contains('\uFFFD', StringComparison.Ordinal) && !Path.Exists(info.FullName) && info.LinkTarget is null)
                {
                    // .NET reads a name that is not UTF-8 with U+FFFD in place of the bad bytes,
                    // a name no file has, so the file could neither be read nor named in the tar.
                    throw new ZstdContainersException(
                        ErrorCodes.PublishFileNameNotUtf8,
                        $"The publish folder holds a file or folder whose name is not valid UTF-8: '{info.FullName}' (U+FFFD marks the bytes that are not). Tar entry names in an image are UTF-8; rename it.");
                }
                entries.Add((relativePath, info));
                if (IsDirectory(info))
                {
                    pending.Push((DirectoryInfo)info);
                }
            }
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return entries;
    }

    /// <summary>A symlink or Windows junction: stored as a link, never as the content it points to.</summary>
    public static bool IsLink(FileSystemInfo info) => IsLink(info.Attributes, info.LinkTarget);

    /// <summary>
    /// Only a reparse point with a link target is a link. Another Windows reparse point (a cloud-file
    /// placeholder, a deduplicated file) is the file or folder it stands for.
    /// </summary>
    internal static bool IsLink(FileAttributes attributes, string? linkTarget) =>
        attributes.HasFlag(FileAttributes.ReparsePoint) && linkTarget is not null;

    public static bool IsDirectory(FileSystemInfo info) => info is DirectoryInfo && !IsLink(info);

    /// <summary>Link, directory, regular file, or (on Unix) the FIFO, socket or device a FileInfo may also be.</summary>
    public static UnixFileKind KindOf(FileSystemInfo info)
    {
        if (IsLink(info))
        {
            return UnixFileKind.SymbolicLink;
        }
        if (info is DirectoryInfo)
        {
            return UnixFileKind.Directory;
        }
        return UnixFileStatus.Of(info.FullName)?.Kind switch
        {
            UnixFileKind.Fifo => UnixFileKind.Fifo,
            UnixFileKind.Socket => UnixFileKind.Socket,
            UnixFileKind.CharacterDevice => UnixFileKind.CharacterDevice,
            UnixFileKind.BlockDevice => UnixFileKind.BlockDevice,
            _ => UnixFileKind.RegularFile,
        };
    }

    internal static string Describe(UnixFileKind kind) => kind switch
    {
        UnixFileKind.Fifo => "FIFO (named pipe)",
        UnixFileKind.Socket => "socket",
        UnixFileKind.CharacterDevice => "character device",
        UnixFileKind.BlockDevice => "block device",
        _ => "special file",
    };
}
