using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Reflection;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>
/// A client for one registry speaking the OCI distribution spec: manifests, blobs, cross-repository mounts and
/// uploads, with the SDK's credential sources, token auth, retries with backoff, and coded errors. One client
/// may serve several concurrent calls (the pipeline uploads layers in parallel through it).
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private const long MaxManifestBytes = 16L << 20;

    private static readonly string[] ManifestMediaTypes =
        [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    private static readonly string UserAgent =
        "ZstdContainers/" + (typeof(RegistryClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    private readonly RegistryClientOptions _options;
    private readonly RegistryEndpoint _endpoint;
    private readonly RegistryAccess _access;
    private readonly HttpMessageHandler _transport;
    private readonly HttpClient _http;
    private readonly HttpClient _pipeline;
    private readonly RegistryAuthenticator _auth;
    private readonly SchemeProbe _scheme;
    private readonly RegistryOrigin _origin;
    private readonly RetryLoop _retryLoop;
    private readonly SemaphoreSlim _uploadGate;
    private readonly IBuildLog _log;
    private readonly TimeProvider _time;
    private int _disposed;

    /// <summary>
    /// The HTTP concerns are a pipeline: <see cref="AuthHandler"/> (credentials to the registry only, challenges
    /// answered) over <see cref="RedirectHandler"/> (redirects without credentials across hosts) over the transport;
    /// <see cref="SchemeProbe"/> picks http or https for an insecure registry and <see cref="RetryLoop"/> retries
    /// whole operations. Token requests and the probe go to the transport directly.
    /// </summary>
    public RegistryClient(string registry, RegistryAccess access, RegistryClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _access = access;
        _log = options.Log ?? NullBuildLog.Instance;
        _time = options.TimeProvider ?? TimeProvider.System;
        _endpoint = RegistryEndpoint.Create(registry, options.Environment);
        _retryLoop = new RetryLoop(_endpoint.Registry, options, _time, _log);
        _uploadGate = new SemaphoreSlim(Math.Max(1, options.MaxParallelUploads));

        _transport = options.InnerHandler ?? CreateDefaultHandler(_endpoint);
        _http = NewHttpClient(_transport);
        var resolver = new CredentialResolver(_endpoint, access, options.Environment, _log, options.CredentialHelperTimeout);
        SchemeProbe? probe = null;
        _auth = new RegistryAuthenticator(_endpoint, access, resolver, _http, _time, _log, () => probe?.Decided);
        _scheme = probe = new SchemeProbe(_endpoint, _http, _auth, _log, options.RequestTimeout);
        _origin = new RegistryOrigin(_endpoint, () => _scheme.Decided);
        var redirects = new RedirectHandler(_origin, _log, _time) { InnerHandler = _transport };
        _pipeline = NewHttpClient(new AuthHandler(_origin, _auth) { InnerHandler = redirects });
    }

    private static HttpClient NewHttpClient(HttpMessageHandler handler)
    {
        // The handlers are disposed by Dispose (the transport only when the client made it).
        var http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
        return http;
    }

    /// <summary>The registry name as given ("host[:port]").</summary>
    public string Registry => _endpoint.Registry;

    /// <summary>
    /// True for localhost/loopback registries and those listed in DOTNET_CONTAINER_INSECURE_REGISTRIES: spoken to
    /// over plain HTTP (should such a registry answer only on HTTPS, its certificate is not checked, as docker does).
    /// </summary>
    public bool IsInsecure => _endpoint.IsInsecure;

    internal IBuildLog Log => _log;

    private static SocketsHttpHandler CreateDefaultHandler(RegistryEndpoint endpoint)
    {
        var handler = new SocketsHttpHandler
        {
            // Redirects are followed by hand so credentials never travel to another host.
            AllowAutoRedirect = false,
            // Blob digests are over the bytes as stored: never let the transport decompress them.
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        if (endpoint.IsInsecure)
        {
            // Only used when an insecure registry turns out to speak TLS; any other host keeps full verification.
            handler.SslOptions.RemoteCertificateValidationCallback = (sender, _, _, errors) =>
                errors == SslPolicyErrors.None
                || (sender is SslStream stream && string.Equals(stream.TargetHostName, endpoint.Host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase));
        }
        return handler;
    }

    // ---------------------------------------------------------------- plumbing

    private static HttpContent EmptyContent() => new ByteArrayContent([]);

    private IReadOnlyList<string> Scopes(string repository) => RegistryAuthenticator.ScopesFor(_access, repository);

    private ZstdContainersException DigestMismatch(string repository, Digest expected, Digest actual) => new(
        ErrorCodes.DigestMismatch,
        $"Registry '{Registry}': blob {expected} in '{repository}' arrived with digest {actual}. The registry or a proxy served different bytes; try again, and check the registry's storage if it persists.");

    /// <summary>An API URI on the registry's scheme (deciding it first for an insecure registry).</summary>
    private async Task<Uri> ApiUriAsync(string pathAndQuery, RequestAttempt attempt)
    {
        var scheme = _scheme.Decided ?? await _scheme.DecideAsync(attempt.Token).ConfigureAwait(false);
        return new Uri($"{scheme}://{_endpoint.ApiAuthority}{pathAndQuery}");
    }

    internal sealed class RegistryRequest(HttpMethod method, Uri uri, IReadOnlyList<string> scopes)
    {
        public HttpMethod Method { get; } = method;

        public Uri Uri { get; } = uri;

        public IReadOnlyList<string> Scopes { get; } = scopes;

        public IReadOnlyList<string>? Accept { get; init; }

        /// <summary>Makes the body; called again when the request is sent again (after a 401).</summary>
        public Func<HttpContent>? Content { get; init; }

        public long? Range { get; init; }
    }

    /// <summary>Sends a request through the pipeline (auth, redirects, transport) as part of <paramref name="attempt"/>.</summary>
    internal async Task<HttpResponseMessage> SendAsync(RegistryRequest request, RequestAttempt attempt)
    {
        using var message = new HttpRequestMessage(request.Method, request.Uri);
        message.Options.Set(RegistryRequestOptions.Attempt, attempt);
        message.Options.Set(RegistryRequestOptions.Scopes, request.Scopes);
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
        attempt.Request = $"{request.Method} {_origin.Describe(request.Uri)}";
        return await _pipeline.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
    }

    /// <summary>Throws the right exception for an unsuccessful response: retryable, authentication, or a coded error.</summary>
    private async Task EnsureSuccessAsync(HttpResponseMessage response, RequestAttempt attempt)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        throw await FailureAsync(response, attempt).ConfigureAwait(false);
    }

    private async Task<Exception> FailureAsync(HttpResponseMessage response, RequestAttempt attempt)
    {
        var body = response.RequestMessage?.Method == HttpMethod.Head
            ? []
            : await HttpBodies.ReadErrorBodyAsync(response, attempt.Token).ConfigureAwait(false);
        var detail = RegistryErrors.DescribeBody(body, response.Content.Headers.ContentType?.MediaType);
        var request = attempt.Request ?? "a request";
        var status = response.StatusCode;
        if (RetryPolicy.IsRetryableStatus(status))
        {
            return new RetryableStatusException(request, status, detail, RetryPolicy.RetryAfter(response, _time.GetUtcNow()));
        }
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var lookup = await _auth.GetCredentialsAsync(attempt.Token).ConfigureAwait(false);
            return _auth.Failure($"{request} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}", lookup);
        }
        if (RegistryErrors.HasErrorCode(body, "DIGEST_INVALID"))
        {
            return new ZstdContainersException(
                ErrorCodes.DigestMismatch,
                $"Registry '{Registry}': {request} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}. The uploaded bytes do not hash to the digest given.");
        }
        return new ZstdContainersException(
            ErrorCodes.RegistryError,
            $"Registry '{Registry}': {request} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}.");
    }

    internal Task<T> ExecuteAsync<T>(Func<RequestAttempt, Task<T>> operation, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _retryLoop.RunAsync(operation, ct);
    }

    internal Task DelayAsync(TimeSpan delay, CancellationToken ct) => _retryLoop.DelayAsync(delay, ct);

    internal TimeSpan NextRetryDelay(int retry) => _retryLoop.NextRetryDelay(retry);

    internal int MaxRetries => _retryLoop.MaxRetries;

    internal TimeSpan RequestTimeout => _retryLoop.RequestTimeout;

    internal ZstdContainersException Unreachable(string request, Exception ex, int attempts) => _retryLoop.Unreachable(request, ex, attempts);

    /// <summary>Best effort: DELETE an upload session we will not use. Failures are only logged.</summary>
    private async Task CancelUploadAsync(Uri location, IReadOnlyList<string> scopes, CancellationToken ct)
    {
        try
        {
            using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(15), ct);
            using var response = await SendAsync(new RegistryRequest(HttpMethod.Delete, location, scopes), attempt).ConfigureAwait(false);
            _log.Detail($"Registry '{Registry}': cancelled upload session ({(int)response.StatusCode}).");
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException or ZstdContainersException)
        {
            _log.Detail($"Registry '{Registry}': could not cancel an upload session ({RegistryErrors.Reason(ex)}); the registry will expire it.");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _pipeline.Dispose();
        _http.Dispose();
        if (_options.InnerHandler is null)
        {
            _transport.Dispose();
        }
        _auth.Dispose();
        _scheme.Dispose();
        _uploadGate.Dispose();
    }
}
