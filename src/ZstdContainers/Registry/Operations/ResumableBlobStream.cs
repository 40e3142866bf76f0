using ZstdContainers.Layers;

namespace ZstdContainers.Registry;

/// <summary>A blob response as opened: the response, the blob's length when known, and bytes to skip to reach the resume point.</summary>
internal sealed record OpenedBlob(HttpResponseMessage Response, long? Length, long SkipBytes);

/// <summary>What a <see cref="ResumableBlobStream"/> needs from the registry side: how to open its blob again and how to word a refusal.</summary>
internal interface IBlobReopener
{
    /// <summary>How long a read may wait for data before the connection counts as lost.</summary>
    TimeSpan StallTimeout { get; }

    /// <summary>
    /// After failure number <paramref name="failures"/> at <paramref name="position"/>: waits, then opens the blob
    /// from there; throws the coded error when the failure is final (TLS) or the retries are spent.
    /// </summary>
    Task<OpenedBlob> ReopenAsync(long position, Exception error, int failures, CancellationToken ct);

    /// <summary>ZSTDC3012: the registry sent more than the descriptor's <paramref name="limit"/>.</summary>
    ZstdContainersException PastLimit(long limit);
}

/// <summary>
/// A blob download that survives a dropped connection: when a read fails (or stalls for RequestTimeout) it asks
/// again with Range from the byte it had reached, within the client's retry limits. The caller hashes the bytes.
/// </summary>
internal sealed class ResumableBlobStream : ForwardOnlyStream
{
    private readonly IBlobReopener _reopener;
    private readonly long? _limit;
    private HttpResponseMessage? _response;
    private Stream? _body;
    private long? _length;
    private long _skip;
    private long _position;
    private int _failures;

    public ResumableBlobStream(IBlobReopener reopener, long? limit, OpenedBlob opened)
    {
        _reopener = reopener;
        _limit = limit;
        Take(opened);
    }

    public override bool CanRead => true;

    public override long Length => _length ?? throw new NotSupportedException("The registry did not send the blob's length.");

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_response is null, this);
        if (buffer.Length == 0)
        {
            return 0;
        }
        while (true)
        {
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (_reopener.StallTimeout > TimeSpan.Zero)
            {
                stall.CancelAfter(_reopener.StallTimeout);
            }
            try
            {
                _body ??= await _response!.Content.ReadAsStreamAsync(stall.Token).ConfigureAwait(false);
                while (_skip > 0)
                {
                    var skipped = await _body.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _skip)], stall.Token).ConfigureAwait(false);
                    if (skipped == 0)
                    {
                        throw new TransferInterruptedException("the blob ended before the resume point");
                    }
                    _skip -= skipped;
                }
                // Never ask for more than one byte past the descriptor's size: that byte proves the registry lies.
                var window = _limit is { } limit ? buffer[..(int)Math.Min(buffer.Length, limit - _position + 1)] : buffer;
                var read = await _body.ReadAsync(window, stall.Token).ConfigureAwait(false);
                if (read == 0 && _length is { } length && _position < length)
                {
                    throw new TransferInterruptedException($"the blob ended after {_position} of {length} bytes");
                }
                if (_position + read > _limit)
                {
                    throw _reopener.PastLimit(_limit.Value);
                }
                _position += read;
                if (read > 0)
                {
                    _failures = 0;
                }
                return read;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException or OperationCanceledException)
            {
                DisposeResponse();
                Take(await _reopener.ReopenAsync(_position, ex, ++_failures, cancellationToken).ConfigureAwait(false));
            }
        }
    }

    private void Take(OpenedBlob opened)
    {
        _response = opened.Response;
        _length ??= opened.Length;
        _skip = opened.SkipBytes;
    }

    // Callers should read asynchronously; this keeps CopyTo and friends working.
    public override int Read(Span<byte> buffer)
    {
        var array = new byte[buffer.Length];
        var read = ReadAsync(array, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        array.AsSpan(0, read).CopyTo(buffer);
        return read;
    }

    private void DisposeResponse()
    {
        _body?.Dispose();
        _body = null;
        _response?.Dispose();
        _response = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            DisposeResponse();
        }
        base.Dispose(disposing);
    }
}
