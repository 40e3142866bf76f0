namespace ZstdContainers.Registry;

/// <summary>
/// One try of an operation: its cancellation token, with a no-progress timer that body reads and writes
/// restart (so a long transfer is fine while bytes move), and the request it was on when it failed.
/// </summary>
internal sealed class RequestAttempt : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly TimeSpan _timeout;
    private readonly CancellationToken _caller;

    public RequestAttempt(int number, TimeSpan timeout, CancellationToken caller)
    {
        Number = number;
        _timeout = timeout <= TimeSpan.Zero ? System.Threading.Timeout.InfiniteTimeSpan : timeout;
        _caller = caller;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(caller);
        Kick();
    }

    /// <summary>0 for the first try, 1 for the first retry…</summary>
    public int Number { get; }

    public CancellationToken Token => _cts.Token;

    /// <summary>"GET https://host/v2/…" of the request in flight, for messages (no query string).</summary>
    public string? Request { get; set; }

    /// <summary>Set when the attempt moved an upload forward; the retry budget then starts again.</summary>
    public bool MadeProgress { get; private set; }

    public TimeSpan Timeout => _timeout;

    /// <summary>True when the attempt was stopped by its own timer rather than by the caller.</summary>
    public bool TimedOut => _cts.IsCancellationRequested && !_caller.IsCancellationRequested;

    /// <summary>Bytes moved: restart the no-progress timer.</summary>
    public void Kick()
    {
        try
        {
            _cts.CancelAfter(_timeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void ReportProgress() => MadeProgress = true;

    /// <summary>
    /// The retry budget of the operation this attempt belongs to, shared with <see cref="RetryHandler"/>; null for a
    /// request sent outside the retry loop (a best-effort cancel), which is then never retried.
    /// </summary>
    public RetryBudget? Budget { get; init; }

    /// <summary>Stops the no-progress timer while the attempt waits before resending a request; <see cref="Kick"/> restarts it.</summary>
    public void Pause()
    {
        try
        {
            _cts.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose() => _cts.Dispose();
}
