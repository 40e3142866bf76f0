using ZstdContainers.Layers;
using ZstdContainers.Reporting;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Reporting;

public sealed class ProgressMeterTests
{
    private const long MB = 1_000_000;
    private readonly ManualTime _clock = new();
    private readonly CapturingLog _log = new();

    private ProgressMeter Meter(long? total = 300 * MB) =>
        new("base layer sha256:f41a663bab38: recompressing to zstd", total, _log, _clock, TimeSpan.FromSeconds(5));

    [Fact]
    public void Work_that_ends_within_the_interval_prints_nothing()
    {
        var meter = Meter();
        for (var i = 0; i < 49; i++)
        {
            _clock.Now += TimeSpan.FromMilliseconds(100);
            meter.Advance(6 * MB);
        }

        Assert.Empty(_log.Lines);
        Assert.Equal(294 * MB, meter.DoneBytes);
    }

    [Fact]
    public void Long_work_prints_the_layer_the_bytes_done_and_the_rate_at_most_every_interval()
    {
        var meter = Meter();
        // 12 s at 20 MB/s, in reads every 250 ms
        for (var i = 0; i < 48; i++)
        {
            _clock.Now += TimeSpan.FromMilliseconds(250);
            meter.Advance(5 * MB);
        }

        Assert.Equal(
        [
            "info:   base layer sha256:f41a663bab38: recompressing to zstd, 100.0 MB of 300.0 MB (33%) read, 20.0 MB/s",
            "info:   base layer sha256:f41a663bab38: recompressing to zstd, 200.0 MB of 300.0 MB (67%) read, 20.0 MB/s",
        ], _log.Lines);
    }

    [Fact]
    public void A_stall_longer_than_the_interval_gives_one_line_not_a_burst()
    {
        var meter = Meter(total: null);
        meter.Advance(MB);
        _clock.Now += TimeSpan.FromSeconds(31);
        meter.Advance(MB);
        meter.Advance(MB);

        var line = Assert.Single(_log.Lines);
        Assert.Equal("info:   base layer sha256:f41a663bab38: recompressing to zstd, 2.0 MB read, 64.5 kB/s", line);
    }

    [Fact]
    public async Task The_stream_counts_every_byte_read_through_it_sync_and_async()
    {
        var meter = Meter();
        var bytes = new byte[3 * 1024 * 1024];
        await using var stream = new ProgressReadStream(new MemoryStream(bytes), meter);

        var buffer = new byte[1024 * 1024];
        var total = stream.Read(buffer, 0, buffer.Length);
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        Assert.Equal(bytes.Length, total);
        Assert.Equal(bytes.Length, meter.DoneBytes);
    }
}
