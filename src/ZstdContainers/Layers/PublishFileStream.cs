using Microsoft.Win32.SafeHandles;

namespace ZstdContainers.Layers;

/// <summary>
/// Reads one publish-folder file for its tar entry and fails, naming the file, when it changes size
/// while it is read: the tar header carries the length taken at open, so a file that grows or shrinks
/// meanwhile would otherwise give a tar whose entries no longer line up, with no error anywhere.
/// </summary>
/// <remarks>
/// Like every sized stream TarWriter is given, it reports <see cref="CanSeek"/> = true and the length
/// taken at open, so the header is written before the data; it never seeks. Reads go through
/// <see cref="RandomAccess"/> at explicit offsets, so no cached length can hide a change.
/// </remarks>
internal sealed class PublishFileStream : ForwardOnlyStream
{
    private readonly SafeFileHandle _handle;
    private readonly string _path;
    private readonly long _length;
    private long _position;

    private PublishFileStream(SafeFileHandle handle, string path)
    {
        _handle = handle;
        _path = path;
        _length = RandomAccess.GetLength(handle);
    }

    /// <summary>Opens the file, or fails with a coded error when it is gone since the folder was listed.</summary>
    public static PublishFileStream Open(string path)
    {
        try
        {
            return new PublishFileStream(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan), path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Changed(path, "was deleted after the publish folder was listed");
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override long Length => _length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, _length - _position);
        if (wanted == 0)
        {
            return 0;
        }
        var read = RandomAccess.Read(_handle, buffer[..wanted], _position);
        if (read == 0)
        {
            throw Changed(_path, $"shrank from {_length} to {_position} bytes while it was read");
        }
        _position += read;
        if (_position == _length && RandomAccess.Read(_handle, stackalloc byte[1], _length) > 0)
        {
            throw Changed(_path, $"grew beyond {_length} bytes while it was read");
        }
        return read;
    }

    private static ZstdContainersException Changed(string path, string what) => new(
        ErrorCodes.PublishFileChanged,
        $"The publish folder file '{path}' {what}, so the app layer would not hold a consistent copy of it. Make sure nothing writes to the publish folder while the image is built (a running app, a watcher, a log), then publish again.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _handle.Dispose();
        }
        base.Dispose(disposing);
    }
}
