namespace ZstdContainers.Layers;

/// <summary>
/// One walk of the publish folder (<see cref="FolderEntries.EnumerateSorted"/>), shared by the steps
/// that only look at metadata: the layer partitioner and the app layer fingerprints. The layer
/// writer walks again when it writes, so a file written after this walk is in the tar.
/// </summary>
/// <param name="Directory">The folder, as a full path.</param>
/// <param name="Entries">Its entries, sorted ordinally by relative path.</param>
/// <param name="TakenAt">When the walk began: a last-write time younger than this by less than a clock tick may still move.</param>
public sealed record PublishFolderSnapshot(string Directory, IReadOnlyList<(string RelativePath, FileSystemInfo Info)> Entries, DateTime TakenAt)
{
    public static PublishFolderSnapshot Take(string publishDirectory, CancellationToken cancellationToken = default)
    {
        // Without a trailing separator, so the same folder is named the same however it was given.
        var directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(publishDirectory));
        var takenAt = DateTime.UtcNow;
        var entries = System.IO.Directory.Exists(directory) ? FolderEntries.EnumerateSorted(directory, cancellationToken) : [];
        return new PublishFolderSnapshot(directory, entries, takenAt);
    }
}
