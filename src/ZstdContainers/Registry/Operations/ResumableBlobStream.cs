using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>
/// A blob download that survives a dropped connection: when a read fails (or stalls for RequestTimeout) it asks
/// again with Range from the byte it had reached, within the client's retry limits. The caller hashes the bytes.
/// </summary>
internal sealed class ResumableBlobStream : Stream
{
    private readonly RegistryClient _client;
    private readonly string _repository;
    private readonly Digest _digest;
    private readonly long? _limit;
    private HttpResponseMessage? _response;
    private Stream? _body;
    private long? _length;
    private long _skip;
    private long _position;
    private int _failures;

    public ResumableBlobStream(RegistryClient client, string repository, Digest digest, long? limit, RegistryClient.OpenedBlob opened)
    {
        _limit = limit;
        _client = client;
        _repository = repository;
        _digest = digest;
        _response = opened.Response;
        _length = opened.Length;
        _skip = opened.SkipBytes;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

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
            if (_client.RequestTimeout > TimeSpan.Zero)
            {
                stall.CancelAfter(_client.RequestTimeout);
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
                    throw _client.BlobTooLarge(_repository, _digest, _limit.Value, $"went on past byte {_limit.Value}");
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
                await ResumeAsync(ex, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ResumeAsync(Exception error, CancellationToken cancellationToken)
    {
        var request = $"GET /v2/{_repository}/blobs/{_digest}";
        if (RegistryErrors.IsTlsFailure(error))
        {
            throw new ZstdContainersException(ErrorCodes.TlsFailure, $"The TLS connection to registry '{_client.Registry}' failed while reading {request}: {RegistryErrors.Reason(error)}.", error);
        }
        _failures++;
        if (_failures > _client.MaxRetries)
        {
            throw _client.Unreachable(request, error, _failures);
        }
        var reason = error is OperationCanceledException ? $"no data for {_client.RequestTimeout.TotalSeconds:0} s" : RegistryErrors.Reason(error);
        _client.Log.Detail($"Registry '{_client.Registry}': download of {_digest} interrupted at byte {_position} ({reason}); resuming, retry {_failures} of {_client.MaxRetries}.");
        DisposeResponse();
        await _client.DelayAsync(_client.NextRetryDelay(_failures), cancellationToken).ConfigureAwait(false);
        var opened = await _client.ExecuteAsync(attempt => _client.OpenBlobResponseAsync(_repository, _digest, _position, _limit, attempt), cancellationToken).ConfigureAwait(false);
        _response = opened.Response;
        _length ??= opened.Length;
        _skip = opened.SkipBytes;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Callers should read asynchronously; this keeps CopyTo and friends working.
    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

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

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
