using ZstdContainers.Reporting;

namespace ZstdContainers.Layers;

/// <summary>A read pass-through that tells a <see cref="ProgressMeter"/> how many bytes went by.</summary>
public sealed class ProgressReadStream(Stream inner, ProgressMeter meter) : ForwardOnlyStream
{
    public override bool CanRead => true;

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        meter.Advance(read);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        meter.Advance(read);
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
