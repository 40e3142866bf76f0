namespace ZstdContainers.Layers;

/// <summary>
/// A write-only pass-through that hashes and counts what flows to the inner stream, so digests
/// and sizes are known the moment the last byte is written — no second read of the blob.
/// </summary>
/// <param name="forwardFlush">False to swallow Flush calls, for an inner stream on which a flush changes the output (a compressor).</param>
public sealed class HashingWriteStream(Stream inner, bool leaveOpen = false, bool forwardFlush = true) : HashingStream(inner, leaveOpen)
{
    public long BytesWritten => Count;

    public override bool CanWrite => true;
    public override long Length => Count;
    public override long Position { get => Count; set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Append(buffer);
        Inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Append(buffer.Span);
        return Inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
        if (forwardFlush)
        {
            Inner.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        forwardFlush ? Inner.FlushAsync(cancellationToken) : Task.CompletedTask;
}
