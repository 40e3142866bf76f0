using System.Security.Cryptography;
using ZstdContainers.Oci;

namespace ZstdContainers.Layers;

/// <summary>
/// What the hashing pass-throughs share: the inner stream they pass bytes to or from, the sha256
/// of those bytes, and disposing the inner stream unless told to leave it open.
/// </summary>
public abstract class HashingStream : ForwardOnlyStream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly bool _leaveOpen;
    private Digest? _digest;

    protected HashingStream(Stream inner, bool leaveOpen)
    {
        Inner = inner;
        _leaveOpen = leaveOpen;
    }

    protected Stream Inner { get; }

    /// <summary>The number of bytes that went through.</summary>
    protected long Count { get; private set; }

    /// <summary>The sha256 of every byte that went through; call once the stream is done (it ends the hash).</summary>
    public Digest Digest => _digest ??= Digest.FromHash(_hash.GetHashAndReset());

    protected void Append(ReadOnlySpan<byte> data)
    {
        if (_digest is not null && !data.IsEmpty)
        {
            throw new InvalidOperationException("The digest was taken before the stream was done.");
        }
        _hash.AppendData(data);
        Count += data.Length;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
            {
                Inner.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        _hash.Dispose();
        if (!_leaveOpen)
        {
            await Inner.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }
}
