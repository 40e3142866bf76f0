using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>
/// Marks a failure of the caller's content (open, read, seek, or too short) while HttpClient was sending it,
/// so it is not mistaken for a network failure and retried. HttpClient may wrap it; the retry loop looks
/// through the chain.
/// </summary>
internal sealed class UploadSourceException : Exception
{
    public UploadSourceException(Exception inner)
        : base(inner.Message, inner)
    {
    }
}

/// <summary>
/// The content of one upload: the caller's <c>openContent</c>, opened lazily, positioned for each request (seek
/// when possible, else skip forward, else open again), and never held in memory.
/// </summary>
internal sealed class UploadSource : IDisposable
{
    private readonly Func<Stream> _open;
    private readonly long _size;
    private readonly Digest _digest;
    private Stream? _stream;
    private long _position;

    public UploadSource(Func<Stream> open, long size, Digest digest)
    {
        _open = open;
        _size = size;
        _digest = digest;
    }

    /// <summary>A request body for bytes [start, start+length): StreamContent with a known Content-Length.</summary>
    public HttpContent CreateContent(long start, long length, RequestAttempt attempt, bool withContentRange)
    {
        var content = new StreamContent(new UploadSliceStream(this, start, length, attempt), 64 * 1024);
        content.Headers.ContentLength = length;
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        if (withContentRange && length > 0)
        {
            // The distribution spec's form: "start-end", inclusive, no unit.
            content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + length - 1}");
        }
        return content;
    }

    internal async ValueTask PositionAtAsync(long start, CancellationToken ct)
    {
        if (_stream is not null)
        {
            if (_position == start)
            {
                return;
            }
            if (_stream.CanSeek)
            {
                _stream.Position = start;
                _position = start;
                return;
            }
            if (_position < start)
            {
                await SkipAsync(start - _position, ct).ConfigureAwait(false);
                return;
            }
            await _stream.DisposeAsync().ConfigureAwait(false);
            _stream = null;
        }

        _stream = _open() ?? throw new InvalidOperationException("openContent returned null.");
        _position = 0;
        if (start > 0)
        {
            if (_stream.CanSeek)
            {
                _stream.Position = start;
                _position = start;
            }
            else
            {
                await SkipAsync(start, ct).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask SkipAsync(long count, CancellationToken ct)
    {
        var buffer = new byte[81920];
        while (count > 0)
        {
            var read = await _stream!.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), ct).ConfigureAwait(false);
            if (read == 0)
            {
                throw TooShort();
            }
            _position += read;
            count -= read;
        }
    }

    internal async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var read = await _stream!.ReadAsync(buffer, ct).ConfigureAwait(false);
        _position += read;
        return read;
    }

    internal ZstdContainersException TooShort() => new(
        ErrorCodes.UploadContentInvalid,
        $"The content given for blob {_digest} ended after {_position} of its {_size} bytes; it changed or was truncated while uploading.");

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
    }
}

/// <summary>A forward-only window of an <see cref="UploadSource"/> that HttpClient reads as a request body.</summary>
internal sealed class UploadSliceStream(UploadSource source, long start, long length, RequestAttempt attempt) : ForwardOnlyStream
{
    private long _delivered;
    private bool _positioned;

    public override bool CanRead => true;

    public override long Length => length;

    public override long Position
    {
        get => _delivered;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_delivered == length || buffer.Length == 0)
        {
            return 0;
        }
        int read;
        try
        {
            if (!_positioned)
            {
                await source.PositionAtAsync(start, cancellationToken).ConfigureAwait(false);
                _positioned = true;
            }
            read = await source.ReadAsync(buffer[..(int)Math.Min(buffer.Length, length - _delivered)], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw source.TooShort();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new UploadSourceException(ex);
        }
        _delivered += read;
        attempt.Kick();
        return read;
    }

    // HttpClient sends StreamContent asynchronously; the synchronous path exists for completeness only.
    public override int Read(Span<byte> buffer)
    {
        var array = new byte[buffer.Length];
        var read = ReadAsync(array, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        array.AsSpan(0, read).CopyTo(buffer);
        return read;
    }
}
