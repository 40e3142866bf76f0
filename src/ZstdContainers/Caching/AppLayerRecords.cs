using System.Text.Json;
using System.Text.Json.Serialization;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>
/// What each app layer's tar hashed to last time, by <see cref="Layers.AppLayerFingerprint"/>, so an
/// unchanged part is recognised without reading its files; and, per publish folder, the content
/// hashes of its small files under their stamps (<see cref="SmallFileHashes"/>), so those are not read either. A lookup key only: the blob it leads to
/// is still found in the target registry by diff_id, format and level, and confirmed there.
/// </summary>
/// <remarks>
/// Kept per project, under its obj/ folder (not in the shared layer cache): it describes that
/// project's publish folder, goes away with <c>dotnet clean</c> or a fresh checkout as MSBuild's own
/// incremental state does, and is never restored onto another machine's files. Written by an atomic
/// rename of a complete file, private to the user; an unreadable or foreign file is ignored (every
/// part is then hashed as without a record).
/// </remarks>
public sealed partial class AppLayerRecords
{
    private const int FormatVersion = 1;

    // Enough for the parts of several RIDs and configurations; the oldest go first.
    private const int MaxEntries = 64;

    // Publish folders whose small-file hashes are kept (one per RID and configuration); the oldest go first.
    private const int MaxFolders = 8;

    private readonly string _path;
    private readonly List<Entry> _entries;
    private readonly List<FolderHashes> _folders;
    private bool _changed;

    private AppLayerRecords(string path, List<Entry> entries, List<FolderHashes> folders)
    {
        _path = path;
        _entries = entries;
        _folders = folders;
    }

    /// <summary>The records in <paramref name="path"/>; none when the file is missing or not ours.</summary>
    public static AppLayerRecords Load(string path, IBuildLog log)
    {
        List<Entry> entries = [];
        List<FolderHashes> folders = [];
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllBytes(path), RecordJson.Default.RecordFile);
            if (file is { Version: FormatVersion, Entries: { } stored })
            {
                entries = [.. stored.Where(e => e.Fingerprint is { Length: 64 } && Digest.TryParse(e.DiffId, out _) && e.TarSize >= 0)];
                folders = [.. (file.Folders ?? []).Where(f => f.Path.Length > 0 && f.Files is not null)];
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            log.Detail($"App layer records '{path}' ignored: {e.Message}");
        }
        return new AppLayerRecords(path, entries, folders);
    }

    /// <summary>
    /// The small-file hashes recorded for <paramref name="publishDirectory"/> (a full path), to be
    /// used by one fingerprint pass and kept again with <see cref="KeepFileHashes"/>.
    /// </summary>
    public SmallFileHashes FileHashesFor(string publishDirectory)
    {
        var known = new Dictionary<string, StampedHash>(StringComparer.Ordinal);
        if (_folders.Find(f => f.Path == publishDirectory) is { Files: { } files })
        {
            foreach (var (relativePath, file) in files)
            {
                if (file is { Sha256.Length: 64, Size: >= 0 })
                {
                    known[relativePath] = new StampedHash(new FileStamp(file.Size, file.WriteTicks, file.Mode), file.Sha256);
                }
            }
        }
        return new SmallFileHashes(known);
    }

    /// <summary>Keeps what a fingerprint pass over <paramref name="publishDirectory"/> left in <paramref name="hashes"/> (written by <see cref="Save"/>).</summary>
    public void KeepFileHashes(string publishDirectory, SmallFileHashes hashes)
    {
        var index = _folders.FindIndex(f => f.Path == publishDirectory);
        if (index >= 0 && !hashes.Changed)
        {
            return;
        }
        if (index >= 0)
        {
            _folders.RemoveAt(index);
        }
        _folders.Add(new FolderHashes
        {
            Path = publishDirectory,
            Files = hashes.Kept.ToDictionary(
                k => k.Key,
                k => new FileHash { Size = k.Value.Stamp.Size, WriteTicks = k.Value.Stamp.WriteTicks, Mode = k.Value.Stamp.Mode, Sha256 = k.Value.Sha256 },
                StringComparer.Ordinal),
        });
        if (_folders.Count > MaxFolders)
        {
            _folders.RemoveRange(0, _folders.Count - MaxFolders);
        }
        _changed = true;
    }

    /// <summary>The diff_id and tar size recorded for this fingerprint, or null.</summary>
    public (Digest DiffId, long TarSize)? Find(string fingerprint) =>
        _entries.FirstOrDefault(e => e.Fingerprint == fingerprint) is { } entry ? (Digest.Parse(entry.DiffId), entry.TarSize) : null;

    /// <summary>Records what a part's tar hashed to (the fingerprint taken before its files were read).</summary>
    public void Add(string fingerprint, Digest diffId, long tarSize)
    {
        var index = _entries.FindIndex(e => e.Fingerprint == fingerprint);
        if (index >= 0 && _entries[index].DiffId == diffId.Value && _entries[index].TarSize == tarSize)
        {
            return;
        }
        if (index >= 0)
        {
            _entries.RemoveAt(index);
        }
        _entries.Add(new Entry { Fingerprint = fingerprint, DiffId = diffId.Value, TarSize = tarSize });
        if (_entries.Count > MaxEntries)
        {
            _entries.RemoveRange(0, _entries.Count - MaxEntries);
        }
        _changed = true;
    }

    /// <summary>Writes the file when something was added; a failure only costs the next publish a hash.</summary>
    public void Save(IBuildLog log)
    {
        if (!_changed)
        {
            return;
        }
        var temp = _path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var stream = new FileStream(temp, options))
            {
                JsonSerializer.Serialize(stream, new RecordFile { Version = FormatVersion, Entries = _entries, Folders = _folders }, RecordJson.Default.RecordFile);
            }
            File.Move(temp, _path, overwrite: true);
            _changed = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            BlobFile.TryDelete(temp);
            log.Detail($"App layer records '{_path}' not written: {e.Message}");
        }
    }

    // Source-generated: reflection-based serialization costs ~0.1 s of start-up in a fresh MSBuild
    // process, a third of a warm publish's container step.
    [JsonSerializable(typeof(RecordFile))]
    private sealed partial class RecordJson : JsonSerializerContext;

    private sealed class RecordFile
    {
        [JsonPropertyName("version")]
        public int Version { get; set; }

        [JsonPropertyName("entries")]
        public List<Entry>? Entries { get; set; }

        // Absent in files written before the hashes were kept: every small file is then read once.
        [JsonPropertyName("folders")]
        public List<FolderHashes>? Folders { get; set; }
    }

    private sealed class FolderHashes
    {
        [JsonPropertyName("path")]
        public string Path { get; set; } = string.Empty;

        [JsonPropertyName("files")]
        public Dictionary<string, FileHash>? Files { get; set; }
    }

    private sealed class FileHash
    {
        [JsonPropertyName("size")]
        public long Size { get; set; }

        [JsonPropertyName("mtime")]
        public long WriteTicks { get; set; }

        [JsonPropertyName("mode")]
        public int Mode { get; set; }

        [JsonPropertyName("sha256")]
        public string Sha256 { get; set; } = string.Empty;
    }

    private sealed class Entry
    {
        [JsonPropertyName("fingerprint")]
        public string Fingerprint { get; set; } = string.Empty;

        [JsonPropertyName("diffId")]
        public string DiffId { get; set; } = string.Empty;

        [JsonPropertyName("tarSize")]
        public long TarSize { get; set; }
    }
}
