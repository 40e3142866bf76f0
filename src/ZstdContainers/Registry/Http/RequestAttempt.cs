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

    public void Dispose() => _cts.Dispose();
}

internal static class HttpBodies
{
    /// <summary>Reads a whole body, failing when it is longer than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]> ReadBoundedAsync(HttpContent content, long maxBytes, RequestAttempt attempt, Func<long, Exception> tooLarge)
    {
        var declared = content.Headers.ContentLength;
        if (declared > maxBytes)
        {
            throw tooLarge(declared.Value);
        }
        await using var stream = await content.ReadAsStreamAsync(attempt.Token).ConfigureAwait(false);
        using var buffer = new MemoryStream(declared is { } d ? (int)Math.Min(d, 1 << 20) : 16 * 1024);
        var chunk = new byte[maxBytes >= 81920 ? 81920 : (int)Math.Max(1, maxBytes + 1)];
        while (true)
        {
            var read = await stream.ReadAsync(chunk, attempt.Token).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            attempt.Kick();
            if (buffer.Length + read > maxBytes)
            {
                throw tooLarge(buffer.Length + read);
            }
            buffer.Write(chunk, 0, read);
        }
        if (declared is { } expected && buffer.Length != expected)
        {
            throw new TransferInterruptedException($"the response ended after {buffer.Length} of {expected} bytes");
        }
        return buffer.ToArray();
    }

    /// <summary>Up to 16 KiB of an error body; never fails.</summary>
    public static async Task<byte[]> ReadErrorBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[16 * 1024];
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
            return buffer[..total];
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return [];
        }
    }
}
