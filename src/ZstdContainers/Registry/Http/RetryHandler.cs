using System.Net;

namespace ZstdContainers.Registry;

/// <summary>
/// Sends a request again when it failed in a way worth another try (no connection, a connection lost before the
/// response, 408, 429 or 5xx), after the registry's Retry-After or a backoff, within its operation's
/// <see cref="RetryBudget"/>. It gives the last failure back unchanged, for the operation to word it. Requests
/// without a budget (a best-effort cancel) and an upload's body requests (<see cref="RegistryRequestOptions.RetriedByOperation"/>)
/// pass through: the upload asks the registry where its session stands before it sends more.
/// </summary>
internal sealed class RetryHandler(RetryFailures failures, TimeProvider time) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Get(RegistryRequestOptions.Attempt) is not { Budget: { } budget } attempt || request.Get(RegistryRequestOptions.RetriedByOperation))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        var message = request;
        while (true)
        {
            var started = time.GetTimestamp();
            string summary;
            TimeSpan wait;
            try
            {
                var response = await base.SendAsync(message, cancellationToken).ConfigureAwait(false);
                if (!RetryPolicy.IsRetryableStatus(response.StatusCode)
                    || !budget.TryTake(RetryPolicy.RetryAfter(response, time.GetUtcNow()), started, out wait))
                {
                    return response;
                }
                summary = await DescribeAsync(message.Method, response, attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OperationCanceledException
                && failures.Classify(ex, attempt, cancellationToken) is { Retryable: true } failure
                && budget.TryTake(failure.RetryAfter, started, out wait))
            {
                summary = failure.Summary;
            }

            // The no-progress timer stops while waiting: the wait is the registry's wish, not a stall.
            attempt.Pause();
            await budget.WaitAsync(summary, wait).ConfigureAwait(false);
            attempt.Kick();
            budget.CountTry();
            if (!ReferenceEquals(message, request))
            {
                message.Dispose();
            }
            message = request.CopyTo(request.RequestUri!);
        }
    }

    /// <summary>The same words the operation's error would use: "GET /v2/… returned 503 Service Unavailable: detail".</summary>
    private static async Task<string> DescribeAsync(HttpMethod method, HttpResponseMessage response, RequestAttempt attempt, CancellationToken cancellationToken)
    {
        using (response)
        {
            var (_, detail) = await RegistryErrors.ReadErrorAsync(method, response, cancellationToken).ConfigureAwait(false);
            return $"{attempt.Request ?? "a request"} returned {RegistryErrors.Status(response.StatusCode)}{RegistryErrors.Suffix(detail)}";
        }
    }
}
