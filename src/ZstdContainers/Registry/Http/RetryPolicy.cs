using System.Globalization;
using System.Net;

namespace ZstdContainers.Registry;

/// <summary>Which failures are worth another try, and how long to wait before it.</summary>
internal sealed class RetryPolicy
{
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;

    public RetryPolicy(RegistryClientOptions options)
    {
        MaxRetries = Math.Max(0, options.MaxRetries);
        MaxRetryTime = options.MaxRetryTime;
        _baseDelay = options.RetryBaseDelay < TimeSpan.Zero ? TimeSpan.Zero : options.RetryBaseDelay;
        _maxDelay = options.MaxRetryDelay < _baseDelay ? _baseDelay : options.MaxRetryDelay;
    }

    public int MaxRetries { get; }

    public TimeSpan MaxRetryTime { get; }

    /// <summary>
    /// The wait before retry number <paramref name="retry"/> (1-based): the registry's Retry-After when it
    /// gave one, else base·2^(retry-1) capped at the maximum, with "equal jitter" (between half and all of it)
    /// so parallel uploads that failed together do not retry together.
    /// </summary>
    public TimeSpan NextDelay(int retry, TimeSpan? retryAfter)
    {
        if (retryAfter is { } ra)
        {
            return ra < TimeSpan.Zero ? TimeSpan.Zero : ra;
        }
        var exponent = Math.Clamp(retry - 1, 0, 30);
        var ticks = Math.Min(_maxDelay.Ticks, _baseDelay.Ticks * (double)(1L << exponent));
        var jittered = ticks / 2 + Random.Shared.NextDouble() * ticks / 2;
        return TimeSpan.FromTicks((long)jittered);
    }

    /// <summary>408, 429 and 5xx other than 501/505 (which will not change by asking again).</summary>
    public static bool IsRetryableStatus(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        || ((int)status >= 500 && status is not HttpStatusCode.NotImplemented and not HttpStatusCode.HttpVersionNotSupported);

    /// <summary>Retry-After from a response, as a delay from now.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now) =>
        response.Headers.NonValidated.TryGetValues("Retry-After", out var values)
            ? ParseRetryAfter(values.FirstOrDefault(), now)
            : null;

    /// <summary>Retry-After is either delta-seconds ("120") or an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT").</summary>
    public static TimeSpan? ParseRetryAfter(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        value = value.Trim();
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.FromDays(1).TotalSeconds));
        }
        if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
            || DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out date))
        {
            var delta = date - now;
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }
        return null;
    }
}
