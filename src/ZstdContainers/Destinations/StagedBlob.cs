using Microsoft.Win32.SafeHandles;

namespace ZstdContainers.Destinations;

/// <summary>
/// A private copy on disk of a blob that lives elsewhere (a base layer on another registry), so an
/// upload can start over without downloading again. The file is created in a fresh mkdtemp folder
/// (random name, 0700) with CreateNew and mode 0600, and unlinked at once on Unix: it lives only as
/// long as our handle, so nobody else can read it and a killed build leaves nothing behind
/// (Windows: FILE_FLAG_DELETE_ON_CLOSE, which the kernel honours when the process dies).
/// </summary>
public sealed class StagedBlob : IDisposable
{
    private readonly FileStream _file;
    private readonly string _folder;

    private StagedBlob(FileStream file, string folder, long length)
    {
        _file = file;
        _folder = folder;
        Length = length;
    }

    public long Length { get; }

    /// <summary>Copies <paramref name="source"/> into a new private staged file.</summary>
    public static async Task<StagedBlob> CopyAsync(Stream source, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("zstdcontainers-stage-").FullName;
        FileStream? file = null;
        try
        {
            var path = Path.Combine(folder, "blob");
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.DeleteOnClose,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            file = new FileStream(path, options);
            if (!OperatingSystem.IsWindows())
            {
                File.Delete(path);
                Directory.Delete(folder);
            }
            await source.CopyToAsync(file, 1 << 20, cancellationToken).ConfigureAwait(false);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            return new StagedBlob(file, folder, file.Length);
        }
        catch
        {
            file?.Dispose();
            TryDeleteFolder(folder);
            throw;
        }
    }

    /// <summary>A new reader from the start; many may be open, each with its own position.</summary>
    public Stream OpenRead() => new HandleReadStream(_file.SafeFileHandle, Length);

    public void Dispose()
    {
        _file.Dispose();
        TryDeleteFolder(_folder);
    }

    private static void TryDeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    // Positional reads of a shared handle (RandomAccess), so readers never disturb each other and
    // disposing one leaves the file open for the next attempt.
    private sealed class HandleReadStream(SafeFileHandle handle, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = RandomAccess.Read(handle, buffer, _position);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer, _position, cancellationToken).ConfigureAwait(false);
            _position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
