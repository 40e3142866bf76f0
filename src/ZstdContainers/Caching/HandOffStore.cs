using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>
/// Blobs handed from the per-RID builds of a multi-RID publish to its index step, when the images go
/// to an archive or the local daemon: each per-RID build makes its image but does not ship it, and
/// the index step, later in the same build, needs the bytes of every layer we made. They live in the
/// project's intermediate folder (obj/), not in the layer cache: the layer cache may be a temporary
/// folder deleted when the per-RID build ends, and app layers there would pile up. The index step
/// deletes the folder once it has shipped, so nothing accumulates.
/// </summary>
public sealed class HandOffStore
{
    private readonly string _blobs;

    /// <param name="directory">A folder of this project's, e.g. <c>obj/zstdcontainers/handoff</c>.</param>
    public HandOffStore(string directory)
    {
        Directory = Path.GetFullPath(directory);
        _blobs = Path.Combine(Directory, "blobs", "sha256");
    }

    public string Directory { get; }

    /// <summary>Keeps a blob we produced under its digest and returns it at its new place.</summary>
    public async Task<LayerBlob> StoreAsync(LayerBlob blob, CancellationToken ct)
    {
        CreatePrivate(_blobs);
        var blobPath = Path.Combine(_blobs, blob.Digest.Hex);
        var temp = Path.Combine(_blobs, $".{blob.Digest.Hex}.{Guid.NewGuid():N}.tmp");
        try
        {
            // Copy, then rename: the source may be on another file system, and a reader must only
            // ever see a complete blob under its digest.
            var input = new FileStream(blob.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (input.ConfigureAwait(false))
            {
                var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
                await using (output.ConfigureAwait(false))
                {
                    await input.CopyToAsync(output, ct).ConfigureAwait(false);
                }
            }
            File.Move(temp, blobPath, overwrite: true);
        }
        catch
        {
            BlobFile.TryDelete(temp);
            throw;
        }
        return blob with { FilePath = blobPath };
    }

    /// <summary>The file of a handed-off blob, or null. Read it through a digest-verifying stream.</summary>
    public string? TryGetBlobPath(Digest digest)
    {
        var path = Path.Combine(_blobs, digest.Hex);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Removes every handed-off blob (after the index step has shipped them).</summary>
    public void Clear()
    {
        try
        {
            if (System.IO.Directory.Exists(Directory))
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
        }
        else
        {
            System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
