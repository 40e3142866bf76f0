using System.Net;

namespace ZstdContainers.Registry;

/// <summary>
/// What a failed try means: worth another try (a connection failure, a try that made no progress, 408, 429, 5xx)
/// or not, how to say it in the retry log, and the coded error once no retry is left. Shared by the
/// <see cref="RetryLoop"/> and the <see cref="RetryHandler"/>, so a failure reads the same whichever retried it.
/// </summary>
internal sealed class RetryFailures(string registry)
{
    public sealed record Failure(bool Retryable, string Summary, TimeSpan? RetryAfter, Func<int, Exception> Final);

    /// <summary>What to do about an exception from an attempt; null lets it pass unchanged.</summary>
    public Failure? Classify(Exception ex, RequestAttempt attempt, CancellationToken ct)
    {
        if (ct.IsCancellationRequested || ex is ZstdContainersException)
        {
            return null;
        }
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is UploadSourceException source)
            {
                // The caller's content failed (or changed) while being sent: not the network, do not retry.
                return new Failure(false, "content failure", null, _ => source.InnerException!);
            }
        }
        var request = attempt.Request ?? "the request";
        switch (ex)
        {
            case RetryableStatusException status:
                return new Failure(true, status.Message, status.RetryAfter, attempts => new ZstdContainersException(
                    ErrorCodes.RegistryError,
                    $"Registry '{registry}': {status.Message} (gave up after {Attempts(attempts)})." +
                    (status.Status == HttpStatusCode.TooManyRequests
                        ? " The registry is rate-limiting requests: try again later, or authenticate for a higher limit."
                        : " The registry is failing; try again later or check its health."),
                    ex));
            case OperationCanceledException when attempt.TimedOut:
                return new Failure(true, $"{request} made no progress for {attempt.Timeout.TotalSeconds:0} s", null, attempts => new ZstdContainersException(
                    ErrorCodes.RegistryTimeout,
                    $"Registry '{registry}' timed out: {request} made no progress for {attempt.Timeout.TotalSeconds:0} s (gave up after {Attempts(attempts)}). Check the network path to the registry and its health.",
                    ex));
            case HttpRequestException when RegistryErrors.IsTlsFailure(ex):
                return new Failure(false, "TLS failure", null, _ => new ZstdContainersException(
                    ErrorCodes.TlsFailure,
                    $"The TLS connection to registry '{registry}' failed ({request}): {RegistryErrors.Reason(ex)}. If the registry's certificate comes from a private CA, trust that CA " +
                    $"(SSL_CERT_FILE or SSL_CERT_DIR, or the system certificate store); if the registry speaks plain HTTP, add '{registry}' to DOTNET_CONTAINER_INSECURE_REGISTRIES.",
                    ex));
            case HttpRequestException when RegistryErrors.IsHostNotFound(ex):
                return new Failure(false, "host not found", null, _ => Unreachable(request, ex, 1));
            case HttpRequestException:
            case IOException:
                return new Failure(true, $"{request} failed: {RegistryErrors.Reason(ex)}", null, attempts => Unreachable(request, ex, attempts));
            default:
                return null;
        }
    }

    /// <summary>
    /// ZSTDC3001 after the last try of a connection failure. Two sentences, because the causes differ: no
    /// connection at all (wrong name, registry down) or connections that break mid-request (an upload cut by
    /// a proxy, a registry that drops connections under load).
    /// </summary>
    public ZstdContainersException Unreachable(string request, Exception ex, int attempts) => new(
        ErrorCodes.RegistryUnreachable,
        RegistryErrors.NeverConnected(ex)
            ? $"Could not reach registry '{registry}' ({request}): {RegistryErrors.Reason(ex)} (gave up after {Attempts(attempts)}). " +
              $"Check the registry name ({UserSetting.Registry} / {UserSetting.BaseImage}), that the registry is up, and the network or proxy settings."
            : $"The connection to registry '{registry}' kept breaking ({request}): {RegistryErrors.Reason(ex)} (gave up after {Attempts(attempts)}). " +
              "A connection was made each time but lost before the request finished: check the registry's health and what is in between " +
              "(a proxy, load balancer or firewall that cuts long or large uploads).",
        ex);

    private static string Attempts(int n) => n == 1 ? "1 attempt" : $"{n} attempts";
}
