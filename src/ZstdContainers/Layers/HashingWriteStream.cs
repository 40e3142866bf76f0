using System.Security.Cryptography;
using ZstdContainers.Oci;

namespace ZstdContainers.Layers;

/// <summary>
/// A write-only pass-through that hashes and counts what flows to the inner stream, so digests
/// and sizes are known the moment the last byte is written — no second read of the blob.
/// </summary>
public sealed class HashingWriteStream : ForwardOnlyStream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly bool _forwardFlush;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private Digest? _digest;

    /// <param name="forwardFlush">False to swallow Flush calls, for an inner stream on which a flush changes the output (a compressor).</param>
    public HashingWriteStream(Stream inner, bool leaveOpen = false, bool forwardFlush = true)
    {
        _inner = inner;
        _leaveOpen = leaveOpen;
        _forwardFlush = forwardFlush;
    }

    public long BytesWritten { get; private set; }

    /// <summary>The sha256 of everything written; call once writing is done.</summary>
    public Digest Digest => _digest ??= Digest.FromHash(_hash.GetHashAndReset());

    public override bool CanWrite => true;
    public override long Length => BytesWritten;
    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        BytesWritten += buffer.Length;
        _inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.AppendData(buffer.Span);
        BytesWritten += buffer.Length;
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
        if (_forwardFlush)
        {
            _inner.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _forwardFlush ? _inner.FlushAsync(cancellationToken) : Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        _hash.Dispose();
        if (!_leaveOpen)
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }
}
