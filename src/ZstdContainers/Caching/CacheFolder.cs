using System.Text.RegularExpressions;
using ZstdContainers.Layers;

namespace ZstdContainers.Caching;

/// <summary>
/// Where the layer cache lives and the rules its folder must meet. Whoever can write the folder
/// chooses the bytes of the base layers we push, so on Unix the folder must be private to us:
/// owned by this user and writable by nobody else. A folder we own that others can only read is
/// tightened to 0700 (older versions created it with the umask's mode); any other is refused.
/// </summary>
internal static partial class CacheFolder
{
    public const string Product = "zstdcontainers";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
    private static readonly TimeSpan StaleTempAge = TimeSpan.FromDays(1);

    /// <summary>
    /// <c>$XDG_CACHE_HOME/zstdcontainers</c>, else <c>~/.cache/zstdcontainers</c>; on Windows
    /// <c>%LOCALAPPDATA%\zstdcontainers</c>. Null when the user has no home: there is no folder that
    /// is both persistent and private then (a fixed name under /tmp could be made by anyone first),
    /// so each build uses a fresh private temporary folder.
    /// </summary>
    public static string? Default(IReadOnlyDictionary<string, string?> environment, bool windows)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (windows)
        {
            var local = Variable(environment, "LOCALAPPDATA", ignoreCase: true);
            if (string.IsNullOrEmpty(local))
            {
                local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            }
            return string.IsNullOrEmpty(local) ? null : Path.Combine(local, Product);
        }

        // The XDG base directory spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
        var xdg = Variable(environment, "XDG_CACHE_HOME", ignoreCase: false);
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, Product);
        }
        var home = Variable(environment, "HOME", ignoreCase: false);
        if (string.IsNullOrEmpty(home))
        {
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
        }
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache", Product);
    }

    /// <summary>A fresh folder for this build only: mkdtemp's random name, mode 0700.</summary>
    public static string CreateTemporary() => Directory.CreateTempSubdirectory(Product + "-cache-").FullName;

    /// <summary>
    /// Creates the folder (0700) or checks an existing one is private; then the layout under the
    /// version folder, proven writable. Returns the version folder.
    /// </summary>
    /// <exception cref="ZstdContainersException">The folder belongs to another user or others can write it.</exception>
    public static string Prepare(string directory, string formatVersion)
    {
        EnsurePrivate(directory);
        var root = Path.Combine(directory, formatVersion);
        var temp = Path.Combine(root, "tmp");
        foreach (var folder in new[] { Path.Combine(root, "blobs", "sha256"), Path.Combine(root, "transcoded"), Path.Combine(root, "locks"), temp })
        {
            CreatePrivateDirectory(folder);
        }

        var probe = Path.Combine(temp, $"probe.{Guid.NewGuid():N}");
        using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
        {
            stream.WriteByte(0);
        }

        // Files a killed build left half-written. Old ones only: a running build's are fresh.
        foreach (var file in new DirectoryInfo(temp).EnumerateFiles())
        {
            try
            {
                if (DateTime.UtcNow - file.LastWriteTimeUtc > StaleTempAge)
                {
                    file.Delete();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return root;
    }

    /// <summary>
    /// Deletes every cache entry under <paramref name="directory"/> (each layout version folder), and
    /// the directory itself when nothing else is left in it.
    /// </summary>
    public static void Clear(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }
        foreach (var version in Directory.EnumerateDirectories(directory))
        {
            if (VersionFolder().IsMatch(Path.GetFileName(version)))
            {
                Directory.Delete(version, recursive: true);
            }
        }
        if (!Directory.EnumerateFileSystemEntries(directory).Any())
        {
            Directory.Delete(directory);
        }
    }

    // Windows: the default folder is under the user's profile, whose ACL is private already; a
    // custom one is the user's choice (ACLs are not checked).
    private static void EnsurePrivate(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        if (!Directory.Exists(directory))
        {
            CreatePrivateDirectory(directory);
        }

        // Check what the path leads to: a link to the folder is fine, the folder must be private.
        var target = new DirectoryInfo(directory).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? directory;
        var me = UnixFileStatus.EffectiveUserId();
        var status = UnixFileStatus.Of(target);
        if (me is null || status is null)
        {
            return; // no native shim: nothing to check with
        }
        if (status.Value.OwnerId != me.Value)
        {
            throw NotPrivate(directory, $"it belongs to the user with uid {status.Value.OwnerId}, not to this build's user (uid {me.Value})");
        }
        var mode = File.GetUnixFileMode(target);
        if ((mode & OthersWrite) != 0)
        {
            throw NotPrivate(directory, $"other users can write to it (mode {Convert.ToString((int)mode, 8)})");
        }
        if ((mode & ~OwnerOnly) != 0)
        {
            // Ours and written by us alone so far, but readable by others: private base layers
            // may be cached here, so close it.
            File.SetUnixFileMode(target, OwnerOnly);
        }
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, OwnerOnly);
        }
    }

    private static ZstdContainersException NotPrivate(string directory, string why) => new(
        ErrorCodes.CacheNotPrivate,
        $"The layer cache folder '{directory}' is refused: {why}. Whoever can write the cache chooses the bytes of the base layers that are pushed. Use a folder only you own and can write (chmod 700), or set {UserSetting.LayerCacheDirectory} to one; do not share a layer cache between users.");

    private static string? Variable(IReadOnlyDictionary<string, string?> environment, string name, bool ignoreCase)
    {
        if (environment.TryGetValue(name, out var value))
        {
            return value;
        }
        return ignoreCase
            ? environment.FirstOrDefault(pair => string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase)).Value
            : null;
    }

    [GeneratedRegex("^v[0-9]+$")]
    private static partial Regex VersionFolder();
}
