using System.Net;
using System.Net.Http.Headers;

namespace ZstdContainers.Registry;

/// <summary>A request as the operations describe it; the pipeline's handlers do the rest.</summary>
internal sealed class RegistryRequest(HttpMethod method, Uri uri, IReadOnlyList<string> scopes)
{
    /// <summary>A request to one of the registry's own paths ("/v2/…"); <see cref="SchemeHandler"/> adds scheme and authority.</summary>
    public RegistryRequest(HttpMethod method, string path, IReadOnlyList<string> scopes)
        : this(method, new Uri(path, UriKind.Relative), scopes)
    {
    }

    public HttpMethod Method { get; } = method;

    /// <summary>The registry's path, or a URL the registry gave (an upload location).</summary>
    public Uri Uri { get; } = uri;

    public IReadOnlyList<string> Scopes { get; } = scopes;

    public IReadOnlyList<string>? Accept { get; init; }

    /// <summary>Makes the body; called again when the request is sent again (after a 401 or a retryable failure).</summary>
    public Func<HttpContent>? Content { get; init; }

    public long? Range { get; init; }

    /// <summary>An upload's body request: retried by the upload, not on its own (see <see cref="RetryHandler"/>).</summary>
    public bool RetriedByOperation { get; init; }

    /// <summary>The absolute URL the request went to, once sent: the base of a relative Location in the answer.</summary>
    public Uri? SentTo { get; private set; }

    internal void Sent(Uri uri) => SentTo = uri;
}

/// <summary>
/// The registry as the operations see it: requests sent through the <see cref="RegistryHttpPipeline"/>, whole
/// operations retried by the <see cref="RetryLoop"/>, and unsuccessful responses turned into the right exception.
/// </summary>
internal sealed class RegistryHttp : IDisposable
{
    private readonly RegistryHttpPipeline _pipeline;
    private readonly RetryLoop _retry;
    private readonly RegistryAccess _access;
    private int _disposed;

    public RegistryHttp(RegistryEndpoint endpoint, RegistryAccess access, RegistryClientOptions options)
    {
        Endpoint = endpoint;
        Options = options;
        _access = access;
        Log = options.Log ?? NullBuildLog.Instance;
        Time = options.TimeProvider ?? TimeProvider.System;
        _retry = new RetryLoop(endpoint.Registry, options, Time, Log);
        _pipeline = RegistryHttpPipeline.Create(endpoint, access, options, _retry.Failures);
    }

    public RegistryEndpoint Endpoint { get; }

    public RegistryClientOptions Options { get; }

    public string Registry => Endpoint.Registry;

    public IBuildLog Log { get; }

    public TimeProvider Time { get; }

    public RetryLoop Retry => _retry;

    public IReadOnlyList<string> Scopes(string repository, string? mountFrom = null) => RegistryAuthenticator.ScopesFor(_access, repository, mountFrom);

    public static HttpContent EmptyContent() => new ByteArrayContent([]);

    /// <summary>Runs an operation within the retry loop; see <see cref="RetryLoop"/>.</summary>
    public Task<T> ExecuteAsync<T>(Func<RequestAttempt, Task<T>> operation, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _retry.RunAsync(operation, ct);
    }

    /// <summary>Sends a request through the pipeline as part of <paramref name="attempt"/>.</summary>
    public async Task<HttpResponseMessage> SendAsync(RegistryRequest request, RequestAttempt attempt)
    {
        using var message = new HttpRequestMessage(request.Method, request.Uri);
        message.Options.Set(RegistryRequestOptions.Attempt, attempt);
        message.Options.Set(RegistryRequestOptions.Scopes, request.Scopes);
        message.Options.Set(RegistryRequestOptions.RetriedByOperation, request.RetriedByOperation);
        if (request.Content is { } content)
        {
            message.Options.Set(RegistryRequestOptions.Content, content);
            message.Content = content();
        }
        foreach (var accept in request.Accept ?? [])
        {
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }
        if (request.Range is { } from)
        {
            message.Headers.Range = new RangeHeaderValue(from, null);
        }
        var response = await _pipeline.SendAsync(message, attempt.Token).ConfigureAwait(false);
        request.Sent(message.RequestUri!);
        return response;
    }

    /// <summary>Throws the right exception for an unsuccessful response: retryable, authentication, or a coded error.</summary>
    public async Task EnsureSuccessAsync(HttpResponseMessage response, RegistryRequest request, RequestAttempt attempt)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync(response, request, attempt).ConfigureAwait(false);
        }
    }

    public async Task<Exception> FailureAsync(HttpResponseMessage response, RegistryRequest request, RequestAttempt attempt)
    {
        var (body, detail) = await RegistryErrors.ReadErrorAsync(request.Method, response, attempt.Token).ConfigureAwait(false);
        var what = attempt.Request ?? "a request";
        var status = response.StatusCode;
        if (RetryPolicy.IsRetryableStatus(status))
        {
            return new RetryableStatusException(what, status, detail, RetryPolicy.RetryAfter(response, Time.GetUtcNow()));
        }
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var lookup = await _pipeline.Auth.GetCredentialsAsync(attempt.Token).ConfigureAwait(false);
            return _pipeline.Auth.Failure($"{what} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}", lookup);
        }
        if (RegistryErrors.HasErrorCode(body, "DIGEST_INVALID"))
        {
            return new ZstdContainersException(
                ErrorCodes.DigestMismatch,
                $"Registry '{Registry}': {what} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}. The uploaded bytes do not hash to the digest given.");
        }
        return new ZstdContainersException(
            ErrorCodes.RegistryError,
            $"Registry '{Registry}': {what} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}.");
    }

    /// <summary>Best effort: DELETE an upload session we will not use. Failures are only logged; never retried.</summary>
    public async Task CancelUploadAsync(Uri location, IReadOnlyList<string> scopes, CancellationToken ct)
    {
        try
        {
            using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(15), ct);
            using var response = await SendAsync(new RegistryRequest(HttpMethod.Delete, location, scopes), attempt).ConfigureAwait(false);
            Log.Detail($"Registry '{Registry}': cancelled upload session ({(int)response.StatusCode}).");
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException or ZstdContainersException)
        {
            Log.Detail($"Registry '{Registry}': could not cancel an upload session ({RegistryErrors.Reason(ex)}); the registry will expire it.");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _pipeline.Dispose();
        }
    }
}
