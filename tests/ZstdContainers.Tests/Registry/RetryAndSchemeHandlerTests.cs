using System.Net;
using System.Net.Sockets;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

/// <summary>The retry and scheme handlers of the registry pipeline, each alone over a scripted inner handler.</summary>
public sealed class RetryAndSchemeHandlerTests
{
    private sealed class Scripted(Func<HttpRequestMessage, int, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<(HttpMethod Method, Uri Uri, string? Body)> Seen { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
            Seen.Add((request.Method, request.RequestUri!, body));
            return answer(request, Seen.Count);
        }
    }

    private static HttpResponseMessage Unavailable(string? retryAfter = null)
    {
        var response = FakeRegistry.Respond(HttpStatusCode.ServiceUnavailable, "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"busy\"}]}");
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }
        return response;
    }

    private sealed class Budgeted : IDisposable
    {
        public Budgeted(int maxRetries)
        {
            var options = new RegistryClientOptions { MaxRetries = maxRetries, RetryBaseDelay = TimeSpan.FromMilliseconds(100) };
            Budget = new RetryBudget("registry.test", new RetryPolicy(options), TimeProvider.System, (d, _) => { Delays.Add(d); return Task.CompletedTask; }, Log, CancellationToken.None);
            Attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None) { Budget = Budget };
            Budget.CountTry(); // the first try, as the retry loop counts it
        }

        public List<TimeSpan> Delays { get; } = [];

        public CapturingLog Log { get; } = new();

        public RetryBudget Budget { get; }

        public RequestAttempt Attempt { get; }

        public HttpRequestMessage Request(HttpMethod method, string uri, string? body = null, bool retriedByOperation = false)
        {
            var request = new HttpRequestMessage(method, uri);
            request.Options.Set(RegistryRequestOptions.Attempt, Attempt);
            request.Options.Set(RegistryRequestOptions.RetriedByOperation, retriedByOperation);
            if (body is not null)
            {
                request.Options.Set(RegistryRequestOptions.Content, () => new StringContent(body));
                request.Content = new StringContent(body);
            }
            Attempt.Request = $"{method} {new Uri(uri).AbsolutePath}";
            return request;
        }

        public void Dispose() => Attempt.Dispose();
    }

    private static HttpMessageInvoker RetryPipeline(HttpMessageHandler inner) =>
        new(new RetryHandler(new RetryFailures("registry.test"), TimeProvider.System) { InnerHandler = inner });

    // ------------------------------------------------------------ RetryHandler

    [Fact]
    public async Task A_503_is_sent_again_after_Retry_After_with_a_fresh_body()
    {
        var inner = new Scripted((_, n) => n == 1 ? Unavailable("7") : new HttpResponseMessage(HttpStatusCode.Created));
        using var invoker = RetryPipeline(inner);
        using var context = new Budgeted(maxRetries: 5);

        using var response = await invoker.SendAsync(context.Request(HttpMethod.Put, "https://registry.test/v2/app/manifests/v1", "manifest"), CancellationToken.None);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["manifest", "manifest"], inner.Seen.Select(s => s.Body));
        Assert.Equal([TimeSpan.FromSeconds(7)], context.Delays);
        Assert.Contains("PUT /v2/app/manifests/v1 returned 503 Service Unavailable: UNAVAILABLE: busy; retry 1 of 5 in 7.0 s.", context.Log.All);
        Assert.Equal(2, context.Budget.Tries);
    }

    [Fact]
    public async Task When_the_budget_is_spent_the_last_answer_comes_back_unread_and_the_budget_stays_spent()
    {
        var inner = new Scripted((_, _) => Unavailable());
        using var invoker = RetryPipeline(inner);
        using var context = new Budgeted(maxRetries: 2);

        using var response = await invoker.SendAsync(context.Request(HttpMethod.Get, "https://registry.test/v2/app/manifests/v1"), CancellationToken.None);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("UNAVAILABLE", await response.Content.ReadAsStringAsync()); // left for the operation's error message
        Assert.Equal(3, inner.Seen.Count);
        Assert.Equal(2, context.Delays.Count);
        Assert.Equal(3, context.Budget.Tries);
        Assert.False(context.Budget.TryTake(null, TimeProvider.System.GetTimestamp(), out _));
    }

    [Fact]
    public async Task A_connection_failure_is_retried_and_a_coded_error_is_not()
    {
        var inner = new Scripted((r, n) => n switch
        {
            1 => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused", new SocketException((int)SocketError.ConnectionRefused)),
            _ => new HttpResponseMessage(HttpStatusCode.OK),
        });
        using var invoker = RetryPipeline(inner);
        using var context = new Budgeted(maxRetries: 5);

        using var response = await invoker.SendAsync(context.Request(HttpMethod.Get, "https://registry.test/v2/"), CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, inner.Seen.Count);

        var coded = new Scripted((_, _) => throw new ZstdContainersException(ErrorCodes.UntrustedAuthChallenge, "no"));
        using var refusing = RetryPipeline(coded);
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => refusing.SendAsync(context.Request(HttpMethod.Get, "https://registry.test/v2/"), CancellationToken.None));
        Assert.Equal(ErrorCodes.UntrustedAuthChallenge, ex.Code);
        Assert.Single(coded.Seen);
    }

    [Fact]
    public async Task Upload_body_requests_and_requests_without_a_budget_are_sent_once()
    {
        var inner = new Scripted((_, _) => Unavailable());
        using var invoker = RetryPipeline(inner);
        using var context = new Budgeted(maxRetries: 5);

        using var patch = await invoker.SendAsync(context.Request(new HttpMethod("PATCH"), "https://registry.test/v2/app/blobs/uploads/1", "chunk", retriedByOperation: true), CancellationToken.None);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
        Assert.Single(inner.Seen);

        using var unbudgeted = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);
        using var delete = new HttpRequestMessage(HttpMethod.Delete, "https://registry.test/v2/app/blobs/uploads/1");
        delete.Options.Set(RegistryRequestOptions.Attempt, unbudgeted);
        using var deleted = await invoker.SendAsync(delete, CancellationToken.None);
        Assert.Equal(2, inner.Seen.Count);
        Assert.Empty(context.Delays);
    }

    // ------------------------------------------------------------ SchemeHandler

    private static (HttpMessageInvoker Invoker, SchemeHandler Scheme, RegistryAuthenticator Auth) SchemePipeline(string registry, string? insecure, HttpMessageHandler inner, HttpMessageHandler pings)
    {
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", insecure));
        var endpoint = RegistryEndpoint.Create(registry, env);
        var log = new CapturingLog();
        var bare = new HttpClient(pings);
        var auth = new RegistryAuthenticator(endpoint, RegistryAccess.Pull, new CredentialResolver(endpoint, RegistryAccess.Pull, env, log, TimeSpan.FromSeconds(1)), bare, TimeProvider.System, log, () => null);
        var scheme = new SchemeHandler(endpoint, bare, auth, log, TimeSpan.FromSeconds(5)) { InnerHandler = inner };
        return (new HttpMessageInvoker(scheme), scheme, auth);
    }

    [Theory]
    [InlineData("registry.test", null, "https://registry.test/v2/app/manifests/v1", 0)]
    [InlineData("registry.test:5000", "registry.test:5000", "http://registry.test:5000/v2/app/manifests/v1", 1)]
    public async Task Paths_get_the_registry_scheme_and_authority(string registry, string? insecure, string expected, int pings)
    {
        var inner = new Scripted((_, _) => new HttpResponseMessage(HttpStatusCode.OK));
        var pinged = new Scripted((_, _) => new HttpResponseMessage(HttpStatusCode.OK));
        var (invoker, _, auth) = SchemePipeline(registry, insecure, inner, pinged);
        using var __ = auth;
        using var ___ = invoker;
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/v2/app/manifests/v1", UriKind.Relative));
        request.Options.Set(RegistryRequestOptions.Attempt, attempt);

        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(new Uri(expected), Assert.Single(inner.Seen).Uri);
        Assert.Equal(new Uri(expected), request.RequestUri);
        Assert.Equal("GET /v2/app/manifests/v1", attempt.Request);
        Assert.Equal(pings, pinged.Seen.Count);
    }

    [Fact]
    public async Task A_location_the_registry_gave_passes_unchanged_and_decides_nothing()
    {
        var inner = new Scripted((_, _) => new HttpResponseMessage(HttpStatusCode.Accepted));
        var pinged = new Scripted((_, _) => throw new InvalidOperationException("no ping expected"));
        var (invoker, scheme, auth) = SchemePipeline("registry.test:5000", "registry.test:5000", inner, pinged);
        using var __ = auth;
        using var ___ = invoker;
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://storage.test/uploads/1?sig=S");
        request.Options.Set(RegistryRequestOptions.Attempt, attempt);

        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(new Uri("https://storage.test/uploads/1?sig=S"), Assert.Single(inner.Seen).Uri);
        Assert.Equal("GET https://storage.test/uploads/1", attempt.Request); // never the signed query
        Assert.Null(scheme.Decided);
        Assert.Empty(pinged.Seen);
    }
}
