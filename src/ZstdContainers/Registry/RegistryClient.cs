using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
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
    private const int MaxRedirects = 5;

    private static readonly string[] ManifestMediaTypes =
        [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    private static readonly string UserAgent =
        "ZstdContainers/" + (typeof(RegistryClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    private readonly RegistryClientOptions _options;
    private readonly RegistryEndpoint _endpoint;
    private readonly RegistryAccess _access;
    private readonly HttpClient _http;
    private readonly RegistryAuthenticator _auth;
    private readonly RetryPolicy _retry;
    private readonly SemaphoreSlim _uploadGate;
    private readonly SemaphoreSlim _schemeGate = new(1, 1);
    private readonly IBuildLog _log;
    private readonly TimeProvider _time;
    private string? _scheme;
    private int _disposed;

    public RegistryClient(string registry, RegistryAccess access, RegistryClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _access = access;
        _log = options.Log ?? NullBuildLog.Instance;
        _time = options.TimeProvider ?? TimeProvider.System;
        _endpoint = RegistryEndpoint.Create(registry, options.Environment);
        _retry = new RetryPolicy(options);
        _uploadGate = new SemaphoreSlim(Math.Max(1, options.MaxParallelUploads));

        var handler = options.InnerHandler ?? CreateDefaultHandler(_endpoint);
        _http = new HttpClient(handler, disposeHandler: options.InnerHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);

        var resolver = new CredentialResolver(_endpoint, access, options.Environment, _log, options.CredentialHelperTimeout);
        _auth = new RegistryAuthenticator(_endpoint, access, resolver, _http, _time, _log, () => Volatile.Read(ref _scheme));
        if (!_endpoint.IsInsecure)
        {
            _scheme = Uri.UriSchemeHttps;
        }
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

    // ---------------------------------------------------------------- manifests

    /// <summary>
    /// Reads a manifest or index by tag or digest. The digest returned is over the exact bytes; when the
    /// reference is a digest, the bytes must match it. A missing image is ZSTDC2001 naming registry/repo:ref.
    /// </summary>
    public async Task<ManifestResponse> GetManifestAsync(string repository, string reference, CancellationToken ct)
    {
        ValidateRepository(repository);
        var expected = ValidateReference(reference);
        var scopes = Scopes(repository);
        var display = $"{Registry}/{repository}{(expected is null ? ":" : "@")}{reference}";

        return await ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Get, await ApiUriAsync($"/v2/{repository}/manifests/{reference}", attempt).ConfigureAwait(false), scopes)
            {
                Accept = ManifestMediaTypes,
            };
            using var response = await SendAsync(request, attempt).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                var body = await HttpBodies.ReadErrorBodyAsync(response, attempt.Token).ConfigureAwait(false);
                var detail = RegistryErrors.DescribeBody(body, response.Content.Headers.ContentType?.MediaType);
                throw new ZstdContainersException(
                    ErrorCodes.BaseImageNotFound,
                    $"The image '{display}' was not found: the registry answered 404{RegistryErrors.Suffix(detail)}. " +
                    "Check the registry, repository and tag (ContainerBaseImage, or ContainerRegistry/ContainerRepository), and that the tag exists.");
            }
            await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);

            var content = await HttpBodies.ReadBoundedAsync(response.Content, MaxManifestBytes, attempt, size => new ZstdContainersException(
                ErrorCodes.RegistryError,
                $"Registry '{Registry}': the manifest of '{display}' is {size} bytes, larger than the {MaxManifestBytes >> 20} MiB a manifest may be.")).ConfigureAwait(false);

            var digest = Digest.Of(content);
            if (expected is { } want && want != digest)
            {
                throw new ZstdContainersException(
                    ErrorCodes.DigestMismatch,
                    $"Registry '{Registry}' returned a manifest for '{display}' whose digest is {digest}. The content does not match the digest asked for; the registry or a proxy is serving wrong data.");
            }
            if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var headerValues)
                && Digest.TryParse(headerValues.FirstOrDefault(), out var announced) && announced != digest)
            {
                _log.Detail($"Registry '{Registry}': Docker-Content-Digest {announced} differs from the digest of the bytes received ({digest}) for '{display}'; using the latter.");
            }

            var mediaType = ManifestMediaType(response.Content.Headers.ContentType?.MediaType, content);
            return new ManifestResponse(content, mediaType, digest);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Uploads a manifest or index under a tag (or its digest) with Content-Type = mediaType; returns its digest.</summary>
    public async Task<Digest> PutManifestAsync(string repository, string reference, byte[] content, string mediaType, CancellationToken ct)
    {
        ValidateRepository(repository);
        var expected = ValidateReference(reference);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(mediaType);
        var digest = Digest.Of(content);
        if (expected is { } want && want != digest)
        {
            throw new ArgumentException($"The manifest's digest is {digest}, not the {want} it is to be stored under.", nameof(reference));
        }
        var scopes = Scopes(repository);

        return await ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Put, await ApiUriAsync($"/v2/{repository}/manifests/{reference}", attempt).ConfigureAwait(false), scopes)
            {
                Content = () =>
                {
                    var body = new ByteArrayContent(content);
                    body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                    return body;
                },
            };
            using var response = await SendAsync(request, attempt).ConfigureAwait(false);
            await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
            if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var values)
                && Digest.TryParse(values.FirstOrDefault(), out var stored) && stored != digest)
            {
                throw new ZstdContainersException(
                    ErrorCodes.DigestMismatch,
                    $"Registry '{Registry}' stored the manifest for '{repository}:{reference}' as {stored}, but its bytes hash to {digest}; the registry altered it.");
            }
            _log.Detail($"Registry '{Registry}': pushed manifest {digest} ({content.Length} bytes, {mediaType}) as '{repository}:{reference}'.");
            return digest;
        }, ct).ConfigureAwait(false);
    }

    private static string ManifestMediaType(string? contentType, byte[] content)
    {
        if (!string.IsNullOrEmpty(contentType) && !contentType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            && !contentType.Equals("text/plain", StringComparison.OrdinalIgnoreCase))
        {
            return contentType;
        }
        try
        {
            if (OciJson.PeekMediaType(content) is { Length: > 0 } fromDocument)
            {
                return fromDocument;
            }
            // No mediaType anywhere (allowed by image-spec): an index has "manifests".
            return Encoding.UTF8.GetString(content).Contains("\"manifests\"", StringComparison.Ordinal) ? MediaTypes.OciIndex : MediaTypes.OciManifest;
        }
        catch (System.Text.Json.JsonException)
        {
            throw new ZstdContainersException(ErrorCodes.UnsupportedManifest, "The registry returned a manifest that is not JSON.");
        }
    }

    // ---------------------------------------------------------------- blobs

    /// <summary>Reads a small blob (a config) into memory, at most <paramref name="maxBytes"/>, and checks its digest.</summary>
    public async Task<byte[]> GetBlobAsync(string repository, Digest digest, long maxBytes, CancellationToken ct)
    {
        ValidateRepository(repository);
        var scopes = Scopes(repository);
        return await ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Get, await ApiUriAsync($"/v2/{repository}/blobs/{digest}", attempt).ConfigureAwait(false), scopes);
            using var response = await SendAsync(request, attempt).ConfigureAwait(false);
            await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
            var content = await HttpBodies.ReadBoundedAsync(response.Content, maxBytes, attempt, size => new ZstdContainersException(
                ErrorCodes.RegistryError,
                $"Registry '{Registry}': blob {digest} in '{repository}' is {size} bytes or more, more than the {maxBytes} expected here.")).ConfigureAwait(false);
            var actual = Digest.Of(content);
            if (actual != digest)
            {
                throw DigestMismatch(repository, digest, actual);
            }
            return content;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a blob for streaming (a layer); the caller hashes what it reads. Redirects to storage are followed
    /// without the registry's credentials; a connection lost mid-body is resumed with a Range request.
    /// </summary>
    public Task<Stream> OpenBlobAsync(string repository, Digest digest, CancellationToken ct) =>
        OpenBlobAsync(repository, digest, size: null, ct);

    /// <summary>
    /// Opens a blob whose descriptor gives its <paramref name="size"/>: a registry that announces or sends more
    /// fails with ZSTDC3012 at the first byte beyond it, so an endless stream cannot fill the disk.
    /// </summary>
    public async Task<Stream> OpenBlobAsync(string repository, Digest digest, long? size, CancellationToken ct)
    {
        ValidateRepository(repository);
        if (size is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size));
        }
        var opened = await ExecuteAsync(attempt => OpenBlobResponseAsync(repository, digest, 0, size, attempt), ct).ConfigureAwait(false);
        return new ResumableBlobStream(this, repository, digest, size, opened);
    }

    internal ZstdContainersException BlobTooLarge(string repository, Digest digest, long size, string how) => new(
        ErrorCodes.BlobLargerThanDescriptor,
        $"Registry '{Registry}': blob {digest} in '{repository}' {how}, but its descriptor says {size} bytes; the download was stopped there. " +
        "The registry or a proxy is serving wrong data; try again, and check the registry if it persists.");

    internal sealed record OpenedBlob(HttpResponseMessage Response, long? Length, long SkipBytes);

    internal async Task<OpenedBlob> OpenBlobResponseAsync(string repository, Digest digest, long offset, long? size, RequestAttempt attempt)
    {
        var request = new RegistryRequest(HttpMethod.Get, await ApiUriAsync($"/v2/{repository}/blobs/{digest}", attempt).ConfigureAwait(false), Scopes(repository))
        {
            Range = offset > 0 ? offset : null,
        };
        var response = await SendAsync(request, attempt).ConfigureAwait(false);
        try
        {
            await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
            var length = response.Content.Headers.ContentLength;
            if (offset > 0 && response.StatusCode == HttpStatusCode.PartialContent)
            {
                var range = response.Content.Headers.ContentRange;
                if (range?.From is { } from && from != offset)
                {
                    throw new TransferInterruptedException($"the registry resumed at byte {from} instead of {offset}");
                }
                var total = range?.Length ?? (length is { } l ? offset + l : null);
                if (total > size)
                {
                    throw BlobTooLarge(repository, digest, size!.Value, $"is announced as {total} bytes");
                }
                return new OpenedBlob(response, total, 0);
            }
            if (length > size)
            {
                throw BlobTooLarge(repository, digest, size!.Value, $"is announced as {length} bytes");
            }
            // 200: the whole blob again; the stream skips what it already delivered.
            return new OpenedBlob(response, length, offset);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>HEAD the blob: true when the repository has it.</summary>
    public async Task<bool> BlobExistsAsync(string repository, Digest digest, CancellationToken ct)
    {
        ValidateRepository(repository);
        var scopes = Scopes(repository);
        return await ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Head, await ApiUriAsync($"/v2/{repository}/blobs/{digest}", attempt).ConfigureAwait(false), scopes);
            using var response = await SendAsync(request, attempt).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
            await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
            return true;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the registry to link a blob from another repository (POST ?mount=&amp;from=). True when mounted (201);
    /// false when the registry opened an upload instead (202; that session is cancelled) or the blob is not
    /// mountable for another reason (no access to the source, unknown blob, unsupported).
    /// </summary>
    public async Task<bool> TryMountBlobAsync(string repository, Digest digest, string fromRepository, CancellationToken ct)
    {
        ValidateRepository(repository);
        ValidateRepository(fromRepository);
        var scopes = RegistryAuthenticator.ScopesFor(_access, repository, fromRepository);
        try
        {
            return await ExecuteAsync(async attempt =>
            {
                var uri = await ApiUriAsync(
                    $"/v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(digest.Value)}&from={Uri.EscapeDataString(fromRepository)}", attempt).ConfigureAwait(false);
                var request = new RegistryRequest(HttpMethod.Post, uri, scopes) { Content = EmptyContent };
                using var response = await SendAsync(request, attempt).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    _log.Detail($"Registry '{Registry}': mounted {digest} from '{fromRepository}' into '{repository}'.");
                    return true;
                }
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    if (response.Headers.Location is { } location)
                    {
                        await CancelUploadAsync(new Uri(uri, location), scopes, attempt.Token).ConfigureAwait(false);
                    }
                    _log.Detail($"Registry '{Registry}': {digest} could not be mounted from '{fromRepository}'; it will be uploaded.");
                    return false;
                }
                if (RetryPolicy.IsRetryableStatus(response.StatusCode))
                {
                    await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
                }
                var body = await HttpBodies.ReadErrorBodyAsync(response, attempt.Token).ConfigureAwait(false);
                _log.Detail($"Registry '{Registry}': mounting {digest} from '{fromRepository}' answered {RegistryErrors.Status(response.StatusCode)}" +
                    $"{RegistryErrors.Suffix(RegistryErrors.DescribeBody(body, response.Content.Headers.ContentType?.MediaType))}; it will be uploaded.");
                return false;
            }, ct).ConfigureAwait(false);
        }
        catch (ZstdContainersException ex) when (ex.Code is ErrorCodes.AuthenticationFailed)
        {
            _log.Detail($"Registry '{Registry}': no access for mounting {digest} from '{fromRepository}'; it will be uploaded.");
            return false;
        }
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
        var scheme = Volatile.Read(ref _scheme) ?? await DecideSchemeAsync(attempt.Token).ConfigureAwait(false);
        return new Uri($"{scheme}://{_endpoint.ApiAuthority}{pathAndQuery}");
    }

    /// <summary>
    /// An insecure registry is spoken to over plain HTTP. Only if it does not answer HTTP (or says it wants
    /// HTTPS) is HTTPS tried, without certificate checks, as docker and the SDK do for such registries.
    /// </summary>
    private async Task<string> DecideSchemeAsync(CancellationToken ct)
    {
        await _schemeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_scheme is { } decided)
            {
                return decided;
            }
            var scheme = Uri.UriSchemeHttp;
            if (await PingAsync(Uri.UriSchemeHttp, ct).ConfigureAwait(false) == PingResult.Confused
                && await PingAsync(Uri.UriSchemeHttps, ct).ConfigureAwait(false) == PingResult.Answered)
            {
                scheme = Uri.UriSchemeHttps;
            }
            _log.Detail($"Registry '{Registry}' is insecure (loopback or DOTNET_CONTAINER_INSECURE_REGISTRIES): using {scheme}.");
            Volatile.Write(ref _scheme, scheme);
            return scheme;
        }
        finally
        {
            _schemeGate.Release();
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
        timeout.CancelAfter(_options.RequestTimeout > TimeSpan.Zero && _options.RequestTimeout < TimeSpan.FromSeconds(15) ? _options.RequestTimeout : TimeSpan.FromSeconds(15));
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

    internal sealed class RegistryRequest
    {
        public RegistryRequest(HttpMethod method, Uri uri, IReadOnlyList<string> scopes)
        {
            Method = method;
            Uri = uri;
            Scopes = scopes;
        }

        public HttpMethod Method { get; }

        public Uri Uri { get; }

        public IReadOnlyList<string> Scopes { get; }

        public IReadOnlyList<string>? Accept { get; init; }

        /// <summary>Makes the body; called again when the request is sent again (after a 401).</summary>
        public Func<HttpContent>? Content { get; init; }

        public long? Range { get; init; }

        public bool FollowRedirects => Method == HttpMethod.Get || Method == HttpMethod.Head;
    }

    /// <summary>
    /// Sends a request with the known authorization; on 401 (or 403 with a token that may be stale) answers the
    /// challenge and sends it once more. Follows redirects for GET/HEAD. Credentials go only to the registry's own
    /// scheme, host and port; only the registry's own responses may ask for them.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(RegistryRequest request, RequestAttempt attempt)
    {
        RefuseDowngrade(request.Uri, "an upload location");
        var authorization = await _auth.GetAuthorizationAsync(request.Scopes, attempt).ConfigureAwait(false);
        var (response, answeredBy) = await SendFollowingRedirectsAsync(request, authorization, attempt).ConfigureAwait(false);
        RefuseForeignChallenge(request, response, answeredBy);
        if (response.StatusCode == HttpStatusCode.Unauthorized
            || (response.StatusCode == HttpStatusCode.Forbidden && authorization?.Scheme == "Bearer" && IsRegistryOrigin(answeredBy)))
        {
            var challenge = AuthChallenge.FromResponse(response)
                ?? (response.StatusCode == HttpStatusCode.Forbidden ? _auth.KnownChallenge : null);
            if (challenge is not null)
            {
                var next = await _auth.AuthenticateAsync(challenge, request.Scopes, authorization, attempt).ConfigureAwait(false);
                if (next is not null)
                {
                    response.Dispose();
                    (response, answeredBy) = await SendFollowingRedirectsAsync(request, next, attempt).ConfigureAwait(false);
                    RefuseForeignChallenge(request, response, answeredBy);
                }
            }
        }
        return response;
    }

    /// <summary>
    /// Storage or a CDN behind a redirect, or an upload location on another host, may not ask for credentials:
    /// its challenge could name any realm, and answering it would hand the registry's credentials to whoever that is.
    /// </summary>
    private void RefuseForeignChallenge(RegistryRequest request, HttpResponseMessage response, Uri answeredBy)
    {
        if (response.StatusCode != HttpStatusCode.Unauthorized || IsRegistryOrigin(answeredBy))
        {
            return;
        }
        response.Dispose();
        throw new ZstdContainersException(
            ErrorCodes.UntrustedAuthChallenge,
            $"Registry '{Registry}': {request.Method} {DescribeUri(answeredBy)} (not the registry itself) answered 401 and asked for credentials; " +
            "the registry's credentials go only to the registry. Check the registry's storage or proxy configuration (signed redirect URLs need no credentials).");
    }

    /// <summary>Sends, following redirects for GET/HEAD; returns the last response and the URL that gave it.</summary>
    private async Task<(HttpResponseMessage Response, Uri AnsweredBy)> SendFollowingRedirectsAsync(RegistryRequest request, AuthenticationHeaderValue? authorization, RequestAttempt attempt)
    {
        var uri = request.Uri;
        for (var hop = 0; ; hop++)
        {
            var message = new HttpRequestMessage(request.Method, uri);
            if (request.Content is not null)
            {
                message.Content = request.Content();
            }
            if (request.Accept is not null)
            {
                foreach (var accept in request.Accept)
                {
                    message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
                }
            }
            if (request.Range is { } from)
            {
                message.Headers.Range = new RangeHeaderValue(from, null);
            }
            if (authorization is not null && IsRegistryOrigin(uri))
            {
                message.Headers.Authorization = authorization;
            }

            attempt.Request = $"{request.Method} {DescribeUri(uri)}";
            var started = _time.GetTimestamp();
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
            }
            catch
            {
                message.Dispose();
                throw;
            }
            attempt.Kick();
            _log.Detail($"{request.Method} {RegistryAuthenticator.Describe(uri)} -> {(int)response.StatusCode} ({_time.GetElapsedTime(started).TotalMilliseconds:0} ms)");

            if (!request.FollowRedirects || !IsRedirect(response.StatusCode) || response.Headers.Location is not { } location)
            {
                return (response, uri);
            }
            response.Dispose();
            message.Dispose();
            if (hop >= MaxRedirects)
            {
                throw new ZstdContainersException(
                    ErrorCodes.RegistryError,
                    $"Registry '{Registry}': {request.Method} {DescribeUri(request.Uri)} was redirected more than {MaxRedirects} times.");
            }
            var next = new Uri(uri, location);
            if (uri.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps && !_endpoint.IsInsecure)
            {
                throw Downgrade(next, "a redirect");
            }
            // Storage behind a redirect (S3, Azure Blob, a CDN) authenticates by a signed URL: the registry's
            // credentials are not attached there (IsRegistryOrigin above).
            _log.Detail($"  redirected to {RegistryAuthenticator.Describe(next)}");
            uri = next;
        }
    }

    /// <summary>The registry itself: its API host and port on the scheme it is spoken to (either scheme when insecure).</summary>
    private bool IsRegistryOrigin(Uri uri) =>
        _endpoint.IsApiUri(uri)
        && (_endpoint.IsInsecure || string.Equals(uri.Scheme, Volatile.Read(ref _scheme) ?? Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase));

    /// <summary>A URL the registry gave us (an upload location) may not take a TLS registry's traffic to plain HTTP.</summary>
    private void RefuseDowngrade(Uri uri, string what)
    {
        if (!_endpoint.IsInsecure && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw Downgrade(uri, what);
        }
    }

    private ZstdContainersException Downgrade(Uri target, string what) => new(
        ErrorCodes.InsecureSchemeDowngrade,
        $"Registry '{Registry}' is spoken to over HTTPS but sent {what} on plain HTTP ({RegistryAuthenticator.Describe(target)}); " +
        "the image and credentials are not sent in clear text. Fix the registry's (or its TLS proxy's) external URL so it answers with https:// locations, " +
        $"or, if the registry really is plain HTTP, add '{Registry}' to DOTNET_CONTAINER_INSECURE_REGISTRIES.");

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>"/v2/…" for the registry's own URLs, scheme://host/path for others; never the query.</summary>
    private string DescribeUri(Uri uri) =>
        _endpoint.IsApiUri(uri) ? uri.AbsolutePath : RegistryAuthenticator.Describe(uri);

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

    /// <summary>
    /// Runs an operation, retrying connection failures, timeouts, 408, 429 and 5xx with exponential backoff
    /// and jitter (or the registry's Retry-After), within MaxRetries and MaxRetryTime. The caller's
    /// cancellation always ends it at once. Coded failures and other errors pass through unchanged.
    /// </summary>
    internal async Task<T> ExecuteAsync<T>(Func<RequestAttempt, Task<T>> operation, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var failures = 0;
        long streakStart = 0;
        var waited = TimeSpan.Zero;
        for (var number = 0; ; number++)
        {
            Failure failure;
            var attemptStart = _time.GetTimestamp();
            using (var attempt = new RequestAttempt(number, _options.RequestTimeout, ct))
            {
                try
                {
                    return await operation(attempt).ConfigureAwait(false);
                }
                catch (Exception ex) when (Classify(ex, attempt, ct) is { } classified)
                {
                    failure = classified;
                    if (attempt.MadeProgress)
                    {
                        failures = 0;
                    }
                }
            }

            if (!failure.Retryable)
            {
                throw failure.Final(number + 1);
            }
            if (failures == 0)
            {
                streakStart = attemptStart;
                waited = TimeSpan.Zero;
            }
            failures++;
            var delay = _retry.NextDelay(failures, failure.RetryAfter);
            // Time spent in this streak of failures: the clock, or at least the delays already waited
            // (the same thing in a build; tests replace the delay with one that does not sleep).
            var elapsed = TimeSpan.FromTicks(Math.Max(_time.GetElapsedTime(streakStart).Ticks, waited.Ticks));
            if (failures > _retry.MaxRetries || elapsed + delay > _retry.MaxRetryTime)
            {
                throw failure.Final(number + 1);
            }
            waited += delay;
            _log.Detail($"Registry '{Registry}': {failure.Summary}; retry {failures} of {_retry.MaxRetries} in {delay.TotalSeconds:0.0} s.");
            await DelayAsync(delay, ct).ConfigureAwait(false);
        }
    }

    internal Task DelayAsync(TimeSpan delay, CancellationToken ct) =>
        _options.Delay is { } custom ? custom(delay, ct) : Task.Delay(delay, _time, ct);

    internal TimeSpan NextRetryDelay(int retry) => _retry.NextDelay(retry, null);

    internal int MaxRetries => _retry.MaxRetries;

    internal TimeSpan RequestTimeout => _options.RequestTimeout;

    internal sealed record Failure(bool Retryable, string Summary, TimeSpan? RetryAfter, Func<int, Exception> Final);

    /// <summary>What to do about an exception from an attempt; null lets it pass unchanged.</summary>
    internal Failure? Classify(Exception ex, RequestAttempt attempt, CancellationToken ct)
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
                    $"Registry '{Registry}': {status.Message} (gave up after {Attempts(attempts)})." +
                    (status.Status == HttpStatusCode.TooManyRequests
                        ? " The registry is rate-limiting requests: try again later, or authenticate for a higher limit."
                        : " The registry is failing; try again later or check its health."),
                    ex));
            case OperationCanceledException when attempt.TimedOut:
                return new Failure(true, $"{request} made no progress for {attempt.Timeout.TotalSeconds:0} s", null, attempts => new ZstdContainersException(
                    ErrorCodes.RegistryTimeout,
                    $"Registry '{Registry}' timed out: {request} made no progress for {attempt.Timeout.TotalSeconds:0} s (gave up after {Attempts(attempts)}). Check the network path to the registry and its health.",
                    ex));
            case HttpRequestException when RegistryErrors.IsTlsFailure(ex):
                return new Failure(false, "TLS failure", null, _ => new ZstdContainersException(
                    ErrorCodes.TlsFailure,
                    $"The TLS connection to registry '{Registry}' failed ({request}): {RegistryErrors.Reason(ex)}. If the registry's certificate comes from a private CA, trust that CA " +
                    $"(SSL_CERT_FILE or SSL_CERT_DIR, or the system certificate store); if the registry speaks plain HTTP, add '{Registry}' to DOTNET_CONTAINER_INSECURE_REGISTRIES.",
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
    internal ZstdContainersException Unreachable(string request, Exception ex, int attempts) => new(
        ErrorCodes.RegistryUnreachable,
        RegistryErrors.NeverConnected(ex)
            ? $"Could not reach registry '{Registry}' ({request}): {RegistryErrors.Reason(ex)} (gave up after {Attempts(attempts)}). " +
              "Check the registry name (ContainerRegistry / ContainerBaseImage), that the registry is up, and the network or proxy settings."
            : $"The connection to registry '{Registry}' kept breaking ({request}): {RegistryErrors.Reason(ex)} (gave up after {Attempts(attempts)}). " +
              "A connection was made each time but lost before the request finished: check the registry's health and what is in between " +
              "(a proxy, load balancer or firewall that cuts long or large uploads).",
        ex);

    private static string Attempts(int n) => n == 1 ? "1 attempt" : $"{n} attempts";

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

    // ---------------------------------------------------------------- validation

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex TagPattern();

    private static void ValidateRepository(string repository)
    {
        ArgumentNullException.ThrowIfNull(repository);
        if (repository.Length > 255 || !RepositoryPattern().IsMatch(repository))
        {
            throw new ArgumentException($"'{repository}' is not a repository name (lowercase path components like 'dotnet/aspnet').", nameof(repository));
        }
    }

    /// <summary>A tag, or a sha256 digest (returned so the content can be checked against it).</summary>
    private static Digest? ValidateReference(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Contains(':'))
        {
            if (Digest.TryParse(reference, out var digest))
            {
                return digest;
            }
            throw new ArgumentException($"'{reference}' is not a sha256 digest; only sha256 digests are supported.", nameof(reference));
        }
        if (!TagPattern().IsMatch(reference))
        {
            throw new ArgumentException($"'{reference}' is not a tag (letters, digits, '_', '.', '-'; up to 128 characters).", nameof(reference));
        }
        return null;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _http.Dispose();
        _auth.Dispose();
        _uploadGate.Dispose();
        _schemeGate.Dispose();
    }
}
