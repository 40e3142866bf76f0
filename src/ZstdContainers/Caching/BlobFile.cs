using System.Security.Cryptography;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>Checks and removes blob files of the cache.</summary>
internal static class BlobFile
{
    private const int HashBufferSize = 1 << 20;

    /// <summary>Null when the file at path has exactly this digest and size, else what is wrong with it.</summary>
    public static async Task<string?> VerifyAsync(string path, Digest digest, long size, CancellationToken ct)
    {
        try
        {
            var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
            await using (stream.ConfigureAwait(false))
            {
                if (stream.Length != size)
                {
                    return $"its blob {digest} has {stream.Length} bytes where {size} were recorded";
                }
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(HashBufferSize);
                try
                {
                    int read;
                    while ((read = await stream.ReadAsync(buffer.AsMemory(0, HashBufferSize), ct).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
                var actual = Digest.FromHash(hash.GetHashAndReset());
                return actual == digest ? null : $"its blob {digest} has the content of {actual}";
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return $"its blob {digest} is missing";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"its blob {digest} cannot be read ({e.Message})";
        }
    }

    /// <summary>Null when the file at path exists with this size, else what is wrong with it: a stat, no read.</summary>
    public static string? CheckSize(string path, Digest digest, long size)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return $"its blob {digest} is missing";
            }
            return info.Length == size ? null : $"its blob {digest} has {info.Length} bytes where {size} were recorded";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"its blob {digest} cannot be read ({e.Message})";
        }
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
