using System.Buffers;
using System.Security.Cryptography;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// Reads a blob from its source and checks, while the bytes flow past, that they are exactly the
/// size and sha256 its descriptor promises: more bytes than promised fail at once, fewer or a
/// different digest fail at the end of the stream. Nothing is buffered beyond one copy buffer.
/// </summary>
/// <remarks>
/// It reports <see cref="CanSeek"/> = true with <see cref="Length"/> = the promised size so that
/// <see cref="System.Formats.Tar.TarWriter"/> can write the entry header before the data, which it
/// otherwise only does by seeking back in the archive (impossible on a pipe). Only the reads of
/// <see cref="Length"/> and <see cref="Position"/> that TarWriter makes are supported; seeking is not.
/// </remarks>
internal sealed class VerifyingBlobStream : ForwardOnlyStream
{
    private const int CopyBufferSize = 1 << 20;

    private readonly Stream _inner;
    private readonly Digest _expectedDigest;
    private readonly long _expectedSize;
    private readonly string _what;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _read;
    private bool _verified;

    /// <param name="what">Names the blob in an error, e.g. "layer sha256:… of linux/amd64".</param>
    public VerifyingBlobStream(Stream inner, Digest expectedDigest, long expectedSize, string what)
    {
        _inner = inner;
        _expectedDigest = expectedDigest;
        _expectedSize = expectedSize;
        _what = what;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override long Length => _expectedSize;

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(Span<byte> buffer)
    {
        var n = _inner.Read(buffer);
        return Account(buffer[..n]);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n]);
    }

    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, CopyBufferSize));
        try
        {
            int n;
            while ((n = await ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int Account(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            VerifyAtEnd();
            return 0;
        }
        _read += data.Length;
        if (_read > _expectedSize)
        {
            throw Mismatch($"it has more than the {_expectedSize} bytes its descriptor gives");
        }
        _hash.AppendData(data);
        return data.Length;
    }

    private void VerifyAtEnd()
    {
        if (_verified)
        {
            return;
        }
        if (_read != _expectedSize)
        {
            throw Mismatch($"it has {_read} bytes where its descriptor gives {_expectedSize}");
        }
        var actual = Digest.FromHash(_hash.GetHashAndReset());
        if (actual != _expectedDigest)
        {
            throw Mismatch($"its bytes hash to {actual}");
        }
        _verified = true;
    }

    private ZstdContainersException Mismatch(string detail) => new(
        ErrorCodes.ArchiveBlobMismatch,
        $"The {_what} is not the blob its manifest describes: {detail}. The blob changed or was damaged after the image was built (for example a cached or temporary file was modified or truncated); build the image again, and if it keeps happening clear the ZstdContainers cache.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        _hash.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
