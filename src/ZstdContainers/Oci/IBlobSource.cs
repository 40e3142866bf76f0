namespace ZstdContainers.Oci;

/// <summary>Where a blob's bytes can be read from when a destination needs them.</summary>
public interface IBlobSource
{
    Task<Stream> OpenAsync(CancellationToken cancellationToken);
}

/// <summary>A blob we wrote to disk (the app layer, a transcoded base layer, a cache entry).</summary>
public sealed class FileBlobSource(string path) : IBlobSource
{
    public string Path { get; } = path;

    public Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        Task.FromResult<Stream>(new FileStream(Path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 1 << 20,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        }));
}
