namespace ZstdContainers.Layers;

/// <summary>
/// A read-only pass-through that hashes and counts what is read from the inner stream, so a
/// blob's digest can be checked in the same pass that consumes it.
/// </summary>
public sealed class HashingReadStream(Stream inner, bool leaveOpen = false) : HashingStream(inner, leaveOpen)
{
    public long BytesRead => Count;

    public override bool CanRead => true;
    public override long Position { get => Count; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        var n = Inner.Read(buffer);
        Append(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Append(buffer.Span[..n]);
        return n;
    }
}
