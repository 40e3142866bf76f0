namespace ZstdContainers.Registry;

/// <summary>Reading response bodies: whole ones within a bound (kicking the no-progress timer), and error bodies best effort.</summary>
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
