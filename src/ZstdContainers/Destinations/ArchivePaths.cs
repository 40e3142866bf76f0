namespace ZstdContainers.Destinations;

/// <summary>
/// Names archives the way the SDK does: an archive path with an extension is the
/// file itself; a folder (no extension, or a trailing separator) gets "&lt;repository&gt;.tar.gz" in
/// it. As with the SDK, that file is a plain (uncompressed) tar despite its name — its layers are
/// compressed already — and here it holds an OCI image layout.
/// </summary>
public static class ArchivePaths
{
    public static string Resolve(string archiveOutputPath, string repository)
    {
        var full = System.IO.Path.GetFullPath(archiveOutputPath.Trim());
        var isFolder = full.EndsWith(System.IO.Path.DirectorySeparatorChar) || full.EndsWith(System.IO.Path.AltDirectorySeparatorChar)
            || string.IsNullOrEmpty(System.IO.Path.GetExtension(full)) || Directory.Exists(full);
        return isFolder ? System.IO.Path.Combine(full, repository + ".tar.gz") : full;
    }

    /// <summary>Creates the folder and proves a file can be written there, before any network work.</summary>
    public static void EnsureWritable(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                throw new IOException($"'{path}' is a folder.");
            }
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            // A name nobody can guess and CreateNew: a link planted at the name is never followed.
            using (CreateTemp(path, ".probe-", deleteOnClose: true))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ZstdContainersException(
                ErrorCodes.ArchivePathNotWritable,
                $"The image archive '{path}' (from {UserSetting.ArchiveOutputPath}) cannot be written: {e.Message} Choose a folder you can write to.");
        }
    }

    /// <summary>
    /// A new file next to <paramref name="path"/> with an unpredictable name, created with CreateNew
    /// (never an existing file or a link) and, on Unix, mode 0600 (it may hold private base layers
    /// while it is written).
    /// </summary>
    public static FileStream CreateTemp(string path, string infix, bool deleteOnClose = false)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 1 << 20,
            Options = FileOptions.Asynchronous | (deleteOnClose ? FileOptions.DeleteOnClose : FileOptions.None),
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        var name = path + infix + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        var stream = new FileStream(name, options);
        return stream;
    }

    /// <summary>Gives a finished file the mode a new file of this user gets (0666 less the umask).</summary>
    public static void ApplyDefaultMode(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        using var probe = new FileStream(path + ".mode", new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Options = FileOptions.DeleteOnClose,
        });
        File.SetUnixFileMode(path, File.GetUnixFileMode(probe.SafeFileHandle));
    }
}
