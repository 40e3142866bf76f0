using System.Net;
using System.Text;

namespace ZstdContainers.Registry;

/// <summary>
/// Puts the registry's scheme and authority on the registry's own requests, which the operations address by path
/// ("/v2/…"); URLs the registry gave (upload locations) pass as they are. The scheme is https for a registry that
/// is not insecure; for an insecure one (loopback or DOTNET_CONTAINER_INSECURE_REGISTRIES) it is decided once by
/// pinging /v2/ on plain HTTP first, through the bare transport. A challenge in the ping's answer is the
/// registry's own, so it is remembered.
/// </summary>
internal sealed class SchemeHandler : DelegatingHandler
{
    private readonly RegistryEndpoint _endpoint;
    private readonly HttpClient _http;
    private readonly RegistryAuthenticator _auth;
    private readonly IBuildLog _log;
    private readonly TimeSpan _requestTimeout;
    private readonly SemaphoreSlim _gate = new(1, 1); // no wait handle is ever taken from it, so it needs no Dispose
    private string? _decided;

    public SchemeHandler(RegistryEndpoint endpoint, HttpClient http, RegistryAuthenticator auth, IBuildLog log, TimeSpan requestTimeout)
    {
        _endpoint = endpoint;
        _http = http;
        _auth = auth;
        _log = log;
        _requestTimeout = requestTimeout;
        _decided = endpoint.IsInsecure ? null : Uri.UriSchemeHttps;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { IsAbsoluteUri: false } path)
        {
            var scheme = Decided ?? await DecideAsync(cancellationToken).ConfigureAwait(false);
            request.RequestUri = new Uri($"{scheme}://{_endpoint.ApiAuthority}{path.OriginalString}");
        }
        if (request.Get(RegistryRequestOptions.Attempt) is { } attempt)
        {
            attempt.Request = $"{request.Method} {_endpoint.Describe(request.RequestUri!)}";
        }
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The scheme, once decided.</summary>
    public string? Decided => Volatile.Read(ref _decided);

    /// <summary>
    /// An insecure registry is spoken to over plain HTTP. Only if it does not answer HTTP (or says it wants
    /// HTTPS) is HTTPS tried, without certificate checks, as docker and the SDK do for such registries.
    /// </summary>
    public async Task<string> DecideAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_decided is { } decided)
            {
                return decided;
            }
            var scheme = Uri.UriSchemeHttp;
            if (await PingAsync(Uri.UriSchemeHttp, ct).ConfigureAwait(false) == PingResult.Confused
                && await PingAsync(Uri.UriSchemeHttps, ct).ConfigureAwait(false) == PingResult.Answered)
            {
                scheme = Uri.UriSchemeHttps;
            }
            _log.Detail($"Registry '{_endpoint.Registry}' is insecure (loopback or DOTNET_CONTAINER_INSECURE_REGISTRIES): using {scheme}.");
            Volatile.Write(ref _decided, scheme);
            return scheme;
        }
        finally
        {
            _gate.Release();
        }
    }

    private enum PingResult
    {
        /// <summary>An HTTP answer on this scheme.</summary>
        Answered,

        /// <summary>Nothing listens (refused, timed out, unknown host): the other scheme will not do better.</summary>
        Unreachable,

        /// <summary>Something listens but did not speak plain HTTP back (or said it wants HTTPS).</summary>
        Confused,
    }

    /// <summary>GET /v2/ once on a scheme. Remembers the registry's auth challenge when it gives one.</summary>
    private async Task<PingResult> PingAsync(string scheme, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_requestTimeout > TimeSpan.Zero && _requestTimeout < TimeSpan.FromSeconds(15) ? _requestTimeout : TimeSpan.FromSeconds(15));
        var uri = new Uri($"{scheme}://{_endpoint.ApiAuthority}/v2/");
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            _log.Detail($"GET {uri} -> {(int)response.StatusCode}");
            if (response.StatusCode == HttpStatusCode.BadRequest && scheme == Uri.UriSchemeHttp)
            {
                var body = await HttpBodies.ReadErrorBodyAsync(response, timeout.Token).ConfigureAwait(false);
                if (Encoding.UTF8.GetString(body).Contains("HTTPS", StringComparison.OrdinalIgnoreCase))
                {
                    return PingResult.Confused; // "Client sent an HTTP request to an HTTPS server."
                }
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized && AuthChallenge.FromResponse(response) is { } challenge)
            {
                _auth.Remember(challenge);
            }
            return PingResult.Answered;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException)
        {
            _log.Detail($"GET {uri} failed: {RegistryErrors.Reason(ex)}");
            return ex is OperationCanceledException
                || ex is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
                ? PingResult.Unreachable
                : PingResult.Confused;
        }
    }
}
