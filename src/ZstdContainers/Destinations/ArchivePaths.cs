namespace ZstdContainers.Destinations;

/// <summary>
/// Names archives the way the SDK does: a ContainerArchiveOutputPath with an extension is the
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
            var probe = path + ".probe-" + Environment.ProcessId;
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ZstdContainersException(
                ErrorCodes.ArchivePathNotWritable,
                $"The image archive '{path}' (from ContainerArchiveOutputPath) cannot be written: {e.Message} Choose a folder you can write to.");
        }
    }
}
