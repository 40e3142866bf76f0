using System.Formats.Tar;

namespace ZstdContainers.Layers;

/// <summary>
/// Writes a folder as a layer tar: PAX entries sorted ordinally by path, placed under the
/// container directory (e.g. /app/), with the directories on the way there included, and
/// owner, modes and timestamps taken from a <see cref="LayerEntryPolicy"/>. Given a selection
/// (one layer of a split publish folder), it writes only those entries, in the same order and
/// with the same metadata, so a layer's bytes depend on its own files only.
/// </summary>
public sealed class DirectoryLayerWriter
{
    private readonly string _sourceDirectory;
    private readonly string _containerDirectory;
    private readonly LayerEntryPolicy _policy;
    private readonly IReadOnlySet<string>? _selection;
    private readonly IBuildLog _log;

    /// <param name="sourceDirectory">The folder on disk (the publish folder).</param>
    /// <param name="containerDirectory">Where its content lands in the image, e.g. "/app/".</param>
    /// <param name="selection">
    /// Relative paths ('/' separators, no trailing '/') of the files, links and directories to
    /// write; null writes the whole folder.
    /// </param>
    /// <param name="log">Takes the warnings about files left out.</param>
    public DirectoryLayerWriter(string sourceDirectory, string containerDirectory, LayerEntryPolicy policy, IReadOnlySet<string>? selection = null, IBuildLog? log = null)
    {
        _log = log ?? NullBuildLog.Instance;
        _sourceDirectory = Path.GetFullPath(sourceDirectory);
        _containerDirectory = NormalizeContainerDirectory(containerDirectory);
        _policy = policy;
        _selection = selection;
    }

    /// <summary>Writes the whole tar, end-of-archive blocks included, to <paramref name="output"/>.</summary>
    /// <remarks>
    /// A link is stored as a link and never followed, so a link to a folder elsewhere adds nothing of
    /// that folder and a link to its own folder ends. FIFOs, sockets and device files are skipped
    /// with a <see cref="ErrorCodes.PublishSpecialFileSkipped"/> warning, as docker skips sockets:
    /// reading one would block or never end, and an app's publish output never needs one.
    /// </remarks>
    public void WriteTar(Stream output, CancellationToken cancellationToken)
    {
        EnsureSourceExists();

        using var normalizer = new PaxHeaderNameNormalizer(output);
        using var writer = new TarWriter(normalizer, TarEntryFormat.Pax, leaveOpen: true);

        foreach (var directory in ParentDirectoriesOfContainerDirectory())
        {
            writer.WriteEntry(DirectoryEntry(directory));
        }

        foreach (var (relativePath, info) in FolderEntries.EnumerateSorted(_sourceDirectory, cancellationToken))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_selection is not null && !_selection.Contains(relativePath))
            {
                continue;
            }
            var entryName = _containerDirectory + relativePath;
            switch (FolderEntries.KindOf(info))
            {
                case UnixFileKind.SymbolicLink:
                    writer.WriteEntry(Stamp(new PaxTarEntry(TarEntryType.SymbolicLink, entryName)
                    {
                        LinkName = info.LinkTarget ?? string.Empty,
                        Mode = (UnixFileMode)0b111_111_111,
                    }));
                    break;
                case UnixFileKind.Directory:
                    writer.WriteEntry(DirectoryEntry(entryName + "/"));
                    break;
                case UnixFileKind.RegularFile:
                    WriteFile(writer, entryName, (FileInfo)info);
                    break;
                case var special:
                    _log.Warning(
                        ErrorCodes.PublishSpecialFileSkipped,
                        $"'{info.FullName}' in the publish folder is a {FolderEntries.Describe(special)}, not a file; it is left out of the app layer. Remove it from the publish output if it should not be there.");
                    break;
            }
        }
    }

    /// <summary>Fails with a coded error when the publish folder is missing; cheap, so callers check it before any network work.</summary>
    public void EnsureSourceExists()
    {
        if (!Directory.Exists(_sourceDirectory))
        {
            throw new ZstdContainersException(
                ErrorCodes.PublishDirectoryMissing,
                $"The publish folder '{_sourceDirectory}' does not exist, so there is nothing to put in the app layer. Run the Publish target first (dotnet publish does).");
        }
    }

    private void WriteFile(TarWriter writer, string entryName, FileInfo file)
    {
        using var data = PublishFileStream.Open(file.FullName);
        var executable = !OperatingSystem.IsWindows()
            && (file.UnixFileMode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        var entry = Stamp(new PaxTarEntry(TarEntryType.RegularFile, entryName)
        {
            Mode = _policy.FilePermissions(executable),
            DataStream = data,
        });
        writer.WriteEntry(entry);
    }

    private PaxTarEntry DirectoryEntry(string name) =>
        Stamp(new PaxTarEntry(TarEntryType.Directory, name) { Mode = _policy.DirectoryPermissions });

    private PaxTarEntry Stamp(PaxTarEntry entry)
    {
        entry.ModificationTime = _policy.Timestamp;
        entry.Uid = _policy.OwnerId;
        entry.Gid = _policy.GroupId;
        return entry;
    }

    /// <summary>"app/" for "/app/", and "srv/", "srv/www/" for "/srv/www/".</summary>
    private IEnumerable<string> ParentDirectoriesOfContainerDirectory()
    {
        var parts = _containerDirectory.TrimEnd('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 1; i <= parts.Length; i++)
        {
            yield return string.Join('/', parts.Take(i)) + "/";
        }
    }

    private static string NormalizeContainerDirectory(string containerDirectory)
    {
        var trimmed = containerDirectory.Replace('\\', '/').Trim('/');
        return trimmed.Length == 0 ? string.Empty : trimmed + "/";
    }
}
