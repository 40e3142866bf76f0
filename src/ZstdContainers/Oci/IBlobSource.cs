namespace ZstdContainers.Oci;

/// <summary>Where a blob's bytes can be read from when a destination needs them.</summary>
public interface IBlobSource
{
    Task<Stream> OpenAsync(CancellationToken cancellationToken);
}

/// <summary>A blob we wrote to disk (the app layer, a transcoded base layer, a cache entry).</summary>
public sealed class FileBlobSource(string path) : IBlobSource
{
    private Task? _intact;

    public string Path { get; } = path;

    /// <summary>
    /// A check of the file's bytes that is put off until they are read (a layer cache hit whose
    /// blob the destination already holds is never read at all); it fails with a coded error.
    /// </summary>
    public Func<CancellationToken, Task>? DeferredCheck { get; init; }

    /// <summary>Runs <see cref="DeferredCheck"/>, once however many readers ask; call before reading the file.</summary>
    public Task EnsureIntactAsync(CancellationToken cancellationToken)
    {
        if (DeferredCheck is not { } check)
        {
            return Task.CompletedTask;
        }
        // A race between two callers at most runs the check twice; both see the same verdict.
        return _intact ??= check(cancellationToken);
    }

    public async Task<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        await EnsureIntactAsync(cancellationToken).ConfigureAwait(false);
        return new FileStream(Path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 1 << 20,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        });
    }
}
