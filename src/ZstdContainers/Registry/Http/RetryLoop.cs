namespace ZstdContainers.Registry;

/// <summary>
/// Retries whole operations: what the <see cref="RetryHandler"/> cannot retry on its own, because the failure came
/// after the response headers (a body cut off or stalled) or because the request is part of an upload, whose retry
/// re-opens its content and asks the registry where its session stands. Both draw on one <see cref="RetryBudget"/>
/// per operation. The caller's cancellation always ends it at once; coded failures pass through unchanged.
/// </summary>
internal sealed class RetryLoop(string registry, RegistryClientOptions options, TimeProvider time, IBuildLog log)
{
    private readonly RetryPolicy _policy = new(options);

    public RetryFailures Failures { get; } = new(registry);

    public async Task<T> RunAsync<T>(Func<RequestAttempt, Task<T>> operation, CancellationToken ct)
    {
        var budget = new RetryBudget(registry, _policy, time, DelayAsync, log, ct);
        while (true)
        {
            RetryFailures.Failure failure;
            var attemptStart = time.GetTimestamp();
            budget.CountTry();
            using (var attempt = new RequestAttempt(budget.Tries - 1, options.RequestTimeout, ct) { Budget = budget })
            {
                try
                {
                    return await operation(attempt).ConfigureAwait(false);
                }
                catch (Exception ex) when (Failures.Classify(ex, attempt, ct) is { } classified)
                {
                    failure = classified;
                    if (attempt.MadeProgress)
                    {
                        budget.Restart();
                    }
                }
            }

            if (!failure.Retryable || !budget.TryTake(failure.RetryAfter, attemptStart, out var wait))
            {
                throw failure.Final(budget.Tries);
            }
            await budget.WaitAsync(failure.Summary, wait).ConfigureAwait(false);
        }
    }

    public Task DelayAsync(TimeSpan delay, CancellationToken ct) =>
        options.Delay is { } custom ? custom(delay, ct) : Task.Delay(delay, time, ct);

    public TimeSpan NextRetryDelay(int retry) => _policy.NextDelay(retry, null);

    public int MaxRetries => _policy.MaxRetries;

    public TimeSpan RequestTimeout => options.RequestTimeout;
}
