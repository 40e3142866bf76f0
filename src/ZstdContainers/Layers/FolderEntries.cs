namespace ZstdContainers.Layers;

/// <summary>
/// The entries of a folder as a layer sees them: every file, directory and link below it, depth
/// first, with '/' separators, in ordinal order of the full relative path (so the order never
/// depends on the file system). Shared by the layer writer and the layer partitioner so both
/// see the same entries.
/// </summary>
public static class FolderEntries
{
    public static List<(string RelativePath, FileSystemInfo Info)> EnumerateSorted(string directory)
    {
        var root = new DirectoryInfo(directory);
        var entries = root
            .EnumerateFileSystemInfos("*", new EnumerationOptions
            {
                RecurseSubdirectories = true,
                AttributesToSkip = 0,
                IgnoreInaccessible = false,
                ReturnSpecialDirectories = false,
            })
            .Select(info => (Path.GetRelativePath(root.FullName, info.FullName).Replace('\\', '/'), info))
            .ToList();
        entries.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return entries;
    }

    /// <summary>
    /// The enumeration does not descend into linked directories; a link is stored as a link,
    /// never as the content it points to, so it counts as a file, not a directory.
    /// </summary>
    public static bool IsLink(FileSystemInfo info) => info.Attributes.HasFlag(FileAttributes.ReparsePoint);

    public static bool IsDirectory(FileSystemInfo info) => info is DirectoryInfo && !IsLink(info);
}
