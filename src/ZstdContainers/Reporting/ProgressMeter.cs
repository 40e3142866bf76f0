using System.Globalization;

namespace ZstdContainers.Reporting;

/// <summary>
/// Progress of one long piece of work (recompressing a base layer) at normal verbosity: a line
/// at most every <see cref="Interval"/>, and the first only once that much time has passed, so
/// work that ends sooner prints nothing. Fed by one stream reader, so it needs no locking.
/// </summary>
public sealed class ProgressMeter
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(5);

    private readonly string _what;
    private readonly long? _totalBytes;
    private readonly IBuildLog _log;
    private readonly TimeProvider _clock;
    private readonly DateTimeOffset _start;
    private DateTimeOffset _lastLine;
    private long _doneBytes;

    /// <param name="what">What is being done, e.g. "base layer sha256:f41a663bab38: recompressing".</param>
    /// <param name="totalBytes">The input's size when known, for the share done.</param>
    public ProgressMeter(string what, long? totalBytes, IBuildLog log, TimeProvider? clock = null, TimeSpan? interval = null)
    {
        _what = what;
        _totalBytes = totalBytes;
        _log = log;
        _clock = clock ?? TimeProvider.System;
        Interval = interval ?? DefaultInterval;
        _start = _lastLine = _clock.GetUtcNow();
    }

    public TimeSpan Interval { get; }

    public long DoneBytes => _doneBytes;

    public void Advance(long bytes)
    {
        _doneBytes += bytes;
        var now = _clock.GetUtcNow();
        if (now - _lastLine < Interval)
        {
            return;
        }
        _lastLine = now;
        var seconds = (now - _start).TotalSeconds;
        var rate = seconds > 0 ? _doneBytes / seconds : 0;
        var share = _totalBytes is > 0 and var total
            ? " of " + Sizes.Format(total) + " (" + (100.0 * _doneBytes / total).ToString("0", CultureInfo.InvariantCulture) + "%)"
            : string.Empty;
        _log.Info($"  {_what}, {Sizes.Format(_doneBytes)}{share} read, {Sizes.Format((long)rate)}/s");
    }
}
