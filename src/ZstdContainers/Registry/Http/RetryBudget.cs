namespace ZstdContainers.Registry;

/// <summary>
/// How many more failures one operation may retry, and for how long: MaxRetries tries again within MaxRetryTime,
/// counted from the first failure of a streak. The operation's <see cref="RetryLoop"/> and the
/// <see cref="RetryHandler"/> draw on the same budget, so a request retried on its own uses up the same retries
/// as an operation retried whole, and the final error counts every try. Used by one operation at a time.
/// </summary>
internal sealed class RetryBudget(string registry, RetryPolicy policy, TimeProvider time, Func<TimeSpan, CancellationToken, Task> delay, IBuildLog log, CancellationToken caller)
{
    private int _failures;
    private long _streakStart;
    private TimeSpan _waited;
    private bool _spent;

    /// <summary>Requests (or operation attempts) begun so far: the "gave up after N attempts" of the final error.</summary>
    public int Tries { get; private set; }

    public void CountTry() => Tries++;

    /// <summary>An upload moved forward: the failures before it no longer count.</summary>
    public void Restart()
    {
        _failures = 0;
        _spent = false;
    }

    /// <summary>
    /// Takes one retry for a failure of a try begun at <paramref name="triedAt"/>: the wait before it (the registry's
    /// Retry-After when given, else backoff with jitter), or false when the budget is spent (and stays spent).
    /// </summary>
    public bool TryTake(TimeSpan? retryAfter, long triedAt, out TimeSpan wait)
    {
        wait = TimeSpan.Zero;
        if (_spent)
        {
            return false;
        }
        if (_failures == 0)
        {
            _streakStart = triedAt;
            _waited = TimeSpan.Zero;
        }
        _failures++;
        wait = policy.NextDelay(_failures, retryAfter);
        // Time spent in this streak of failures: the clock, or at least the delays already waited
        // (the same thing in a build; tests replace the delay with one that does not sleep).
        var elapsed = TimeSpan.FromTicks(Math.Max(time.GetElapsedTime(_streakStart).Ticks, _waited.Ticks));
        if (_failures > policy.MaxRetries || elapsed + wait > policy.MaxRetryTime)
        {
            _spent = true;
            return false;
        }
        _waited += wait;
        return true;
    }

    /// <summary>Says why and waits the delay <see cref="TryTake"/> gave; only the caller's cancellation ends the wait early.</summary>
    public Task WaitAsync(string summary, TimeSpan wait)
    {
        log.Detail($"Registry '{registry}': {summary}; retry {_failures} of {policy.MaxRetries} in {wait.TotalSeconds:0.0} s.");
        return delay(wait, caller);
    }
}
