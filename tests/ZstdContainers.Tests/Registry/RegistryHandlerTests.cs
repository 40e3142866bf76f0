using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

/// <summary>Each handler of the registry pipeline alone, over a scripted inner handler.</summary>
public sealed class RegistryHandlerTests
{
    private sealed class Scripted(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<(HttpMethod Method, Uri Uri, string? Authorization)> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add((request.Method, request.RequestUri!, request.Headers.Authorization?.ToString()));
            return Task.FromResult(answer(request));
        }
    }

    private static HttpResponseMessage Redirect(string to)
    {
        var response = new HttpResponseMessage(HttpStatusCode.TemporaryRedirect);
        response.Headers.Location = new Uri(to, UriKind.RelativeOrAbsolute);
        return response;
    }

    private static RegistryOrigin Origin(string registry = "registry.test", string? insecure = null) =>
        new(RegistryEndpoint.Create(registry, RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", insecure))), () => insecure is null ? Uri.UriSchemeHttps : Uri.UriSchemeHttp);

    private static HttpRequestMessage Request(HttpMethod method, string uri, RequestAttempt attempt, AuthenticationHeaderValue? authorization = null)
    {
        var request = new HttpRequestMessage(method, uri);
        request.Options.Set(RegistryRequestOptions.Attempt, attempt);
        request.Options.Set(RegistryRequestOptions.Scopes, ["repository:app:pull"]);
        request.Headers.Authorization = authorization;
        return request;
    }

    private static readonly AuthenticationHeaderValue Secret = new("Basic", "c2VjcmV0");

    // ------------------------------------------------------------ RedirectHandler

    [Fact]
    public async Task Redirect_to_storage_drops_the_credentials_and_records_who_answered()
    {
        var inner = new Scripted(r => r.RequestUri!.Host == "registry.test" ? Redirect("https://storage.test/blob?sig=S") : new HttpResponseMessage(HttpStatusCode.OK));
        using var invoker = new HttpMessageInvoker(new RedirectHandler(Origin(), new CapturingLog(), TimeProvider.System) { InnerHandler = inner });
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);
        using var request = Request(HttpMethod.Get, "https://registry.test/v2/app/blobs/sha256:1", attempt, Secret);

        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([Secret.ToString(), null], inner.Seen.Select(s => s.Authorization));
        Assert.Equal("storage.test", request.Get(RegistryRequestOptions.AnsweredBy)!.Host);
        Assert.Equal("GET https://storage.test/blob", attempt.Request); // never the signed query
    }

    [Fact]
    public async Task Redirect_within_the_registry_keeps_the_credentials()
    {
        var inner = new Scripted(r => r.RequestUri!.AbsolutePath.StartsWith("/v2/old", StringComparison.Ordinal) ? Redirect("/v2/new/blobs/sha256:1") : new HttpResponseMessage(HttpStatusCode.OK));
        using var invoker = new HttpMessageInvoker(new RedirectHandler(Origin(), new CapturingLog(), TimeProvider.System) { InnerHandler = inner });
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);

        using var response = await invoker.SendAsync(Request(HttpMethod.Head, "https://registry.test/v2/old/blobs/sha256:1", attempt, Secret), CancellationToken.None);

        Assert.All(inner.Seen, s => Assert.Equal(Secret.ToString(), s.Authorization));
        Assert.Equal(HttpMethod.Head, inner.Seen[1].Method);
    }

    [Fact]
    public async Task Redirect_down_to_http_is_refused_unless_the_registry_is_insecure()
    {
        var inner = new Scripted(r => r.RequestUri!.Host == "registry.test" ? Redirect("http://storage.test/blob") : new HttpResponseMessage(HttpStatusCode.OK));
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);
        using (var secure = new HttpMessageInvoker(new RedirectHandler(Origin(), new CapturingLog(), TimeProvider.System) { InnerHandler = inner }, disposeHandler: false))
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => secure.SendAsync(Request(HttpMethod.Get, "https://registry.test/v2/a/blobs/sha256:1", attempt), CancellationToken.None));
            Assert.Equal(ErrorCodes.InsecureSchemeDowngrade, ex.Code);
            Assert.Single(inner.Seen);
        }
        using var insecure = new HttpMessageInvoker(new RedirectHandler(Origin(insecure: "registry.test"), new CapturingLog(), TimeProvider.System) { InnerHandler = inner });
        using var response = await insecure.SendAsync(Request(HttpMethod.Get, "https://registry.test/v2/a/blobs/sha256:1", attempt), CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Redirect_loops_end_and_other_methods_are_not_redirected()
    {
        var inner = new Scripted(_ => Redirect("/v2/again"));
        using var invoker = new HttpMessageInvoker(new RedirectHandler(Origin(), new CapturingLog(), TimeProvider.System) { InnerHandler = inner });
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => invoker.SendAsync(Request(HttpMethod.Get, "https://registry.test/v2/start", attempt), CancellationToken.None));
        Assert.Equal(ErrorCodes.RegistryError, ex.Code);
        Assert.Equal(RedirectHandler.MaxRedirects + 1, inner.Seen.Count);

        inner.Seen.Clear();
        using var put = await invoker.SendAsync(Request(HttpMethod.Put, "https://registry.test/v2/start", attempt), CancellationToken.None);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, put.StatusCode);
        Assert.Single(inner.Seen);
    }

    // ------------------------------------------------------------ AuthHandler

    private static (HttpMessageInvoker Invoker, RegistryAuthenticator Auth) AuthPipeline(HttpMessageHandler inner, RegistryOrigin origin, CapturingLog log)
    {
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_PULL_REGISTRY_UNAME", "alice"), ("DOTNET_CONTAINER_PULL_REGISTRY_PWORD", "pw"));
        var endpoint = RegistryEndpoint.Create("registry.test", env);
        var resolver = new CredentialResolver(endpoint, RegistryAccess.Pull, env, log, TimeSpan.FromSeconds(5));
        var auth = new RegistryAuthenticator(endpoint, RegistryAccess.Pull, resolver, new HttpClient(inner, disposeHandler: false), TimeProvider.System, log, () => Uri.UriSchemeHttps);
        return (new HttpMessageInvoker(new AuthHandler(origin, auth) { InnerHandler = inner }), auth);
    }

    private static HttpResponseMessage BasicChallenge()
    {
        var denied = new HttpResponseMessage(HttpStatusCode.Unauthorized);
        denied.Headers.TryAddWithoutValidation("WWW-Authenticate", "Basic realm=\"r\"");
        return denied;
    }

    private static readonly string AliceBasic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:pw"));

    [Fact]
    public async Task Challenge_from_the_registry_is_answered_once_with_a_fresh_body()
    {
        var bodies = new List<string>();
        var inner = new Scripted(r =>
        {
            bodies.Add(r.Content is null ? "" : r.Content.ReadAsStringAsync().Result);
            return r.Headers.Authorization is null && r.RequestUri!.Host == "registry.test" ? BasicChallenge() : new HttpResponseMessage(HttpStatusCode.Created);
        });
        var (invoker, auth) = AuthPipeline(inner, Origin(), new CapturingLog());
        using var _ = auth;
        using var __ = invoker;
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);
        using var request = Request(HttpMethod.Put, "https://registry.test/v2/app/manifests/v1", attempt);
        request.Options.Set(RegistryRequestOptions.Content, () => new StringContent("manifest"));
        request.Content = new StringContent("manifest");

        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal([null, AliceBasic], inner.Seen.Select(s => s.Authorization));
        Assert.Equal(["manifest", "manifest"], bodies);

        // Later requests to the registry carry it up front; a location on another host never does.
        using var next = await invoker.SendAsync(Request(HttpMethod.Get, "https://registry.test/v2/app/manifests/v1", attempt), CancellationToken.None);
        using var elsewhere = await invoker.SendAsync(Request(HttpMethod.Get, "https://uploads.test/v2/app/blobs/uploads/1", attempt), CancellationToken.None);
        Assert.Equal([AliceBasic, null], inner.Seen.Skip(2).Select(s => s.Authorization));
    }

    [Fact]
    public async Task Challenge_from_another_host_is_refused()
    {
        var inner = new Scripted(_ => BasicChallenge());
        var (invoker, auth) = AuthPipeline(inner, Origin(), new CapturingLog());
        using var _ = auth;
        using var __ = invoker;
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => invoker.SendAsync(Request(HttpMethod.Put, "https://uploads.test/session/1", attempt), CancellationToken.None));

        Assert.Equal(ErrorCodes.UntrustedAuthChallenge, ex.Code);
        Assert.Contains("https://uploads.test/session/1", ex.Message);
        Assert.Single(inner.Seen);
        Assert.Null(auth.KnownChallenge); // nothing learnt from it
    }

    [Fact]
    public async Task Upload_location_on_plain_http_is_refused_for_a_secure_registry()
    {
        var inner = new Scripted(_ => new HttpResponseMessage(HttpStatusCode.Created));
        var (invoker, auth) = AuthPipeline(inner, Origin(), new CapturingLog());
        using var _ = auth;
        using var __ = invoker;
        using var attempt = new RequestAttempt(0, TimeSpan.FromSeconds(10), CancellationToken.None);

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => invoker.SendAsync(Request(HttpMethod.Put, "http://registry.test/v2/app/blobs/uploads/1", attempt), CancellationToken.None));

        Assert.Equal(ErrorCodes.InsecureSchemeDowngrade, ex.Code);
        Assert.Empty(inner.Seen);
    }

    // ------------------------------------------------------------ token answers and realms

    [Theory]
    [InlineData("{\"token\":\"t\",\"expires_in\":1e12}", "t", 86400)]
    [InlineData("{\"access_token\":\"a\",\"expires_in\":\"120\"}", "a", 120)]
    [InlineData("{\"token\":\"t\",\"expires_in\":-1}", "t", 60)]
    [InlineData("{\"token\":7}", null, 60)]
    [InlineData("[]", null, 60)]
    [InlineData("{", null, 60)]
    public void Token_answers_never_throw(string json, string? token, int seconds)
    {
        var (parsed, lifetime) = TokenAnswer.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(token, parsed);
        Assert.Equal(TimeSpan.FromSeconds(seconds), lifetime);
    }

    [Theory]
    [InlineData("registry.test", "https", "https://auth.example/token", true)]
    [InlineData("127.0.0.1:5000", "http", "http://127.0.0.1:5001/token", true)] // the rig: same loopback host
    [InlineData("localhost:5000", "http", "http://127.0.0.1:5001/token", true)]
    [InlineData("127.0.0.1:5000", "http", "http://auth.example/token", false)] // another host over http: no credentials
    public void Realm_policy_allows_and_withholds(string registry, string scheme, string realm, bool credentials)
    {
        var endpoint = RegistryEndpoint.Create(registry, RegistryTestHelpers.Env());
        var challenge = AuthChallenge.ParseAll($"Bearer realm=\"{realm}\",service=\"s\"")[0];
        var (uri, allowed) = TokenRealmPolicy.Check(challenge, endpoint, scheme, new CredentialLookup(null, []));
        Assert.Equal(new Uri(realm), uri);
        Assert.Equal(credentials, allowed);
    }

    [Theory]
    [InlineData("registry.test", "https", "http://auth.example/token")]
    [InlineData("registry.test", "https", "https://[::1]/token")]
    [InlineData("registry.test", "https", "https://app.localhost/token")]
    [InlineData("registry.test", "https", "ftp://auth.example/token")]
    public void Realm_policy_refuses(string registry, string scheme, string realm)
    {
        var endpoint = RegistryEndpoint.Create(registry, RegistryTestHelpers.Env());
        var challenge = AuthChallenge.ParseAll($"Bearer realm=\"{realm}\",service=\"s\"")[0];
        var ex = Assert.Throws<ZstdContainersException>(() => TokenRealmPolicy.Check(challenge, endpoint, scheme, new CredentialLookup(null, [])));
        Assert.Equal(ErrorCodes.UnsafeTokenRealm, ex.Code);
    }
}

/// <summary>The retry loop and the scheme handler's probe, each alone.</summary>
public sealed class RegistryRetryAndSchemeTests
{
    [Fact]
    public async Task Retry_loop_waits_what_Retry_After_says_and_gives_up_with_a_code()
    {
        var delays = new List<TimeSpan>();
        var options = new RegistryClientOptions
        {
            MaxRetries = 2,
            Delay = (d, _) => { delays.Add(d); return Task.CompletedTask; },
        };
        var loop = new RetryLoop("registry.test", options, TimeProvider.System, new CapturingLog());
        var calls = 0;

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => loop.RunAsync<int>(_ =>
        {
            calls++;
            throw new RetryableStatusException("GET /v2/", HttpStatusCode.TooManyRequests, null, TimeSpan.FromSeconds(7));
        }, CancellationToken.None));

        Assert.Equal(ErrorCodes.RegistryError, ex.Code);
        Assert.Contains("rate-limiting", ex.Message);
        Assert.Equal(3, calls);
        Assert.Equal([TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(7)], delays);
    }

    [Fact]
    public async Task Retry_loop_lets_coded_errors_through_untried()
    {
        var loop = new RetryLoop("registry.test", new RegistryClientOptions { Delay = (_, _) => Task.CompletedTask }, TimeProvider.System, new CapturingLog());
        var calls = 0;
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => loop.RunAsync<int>(_ =>
        {
            calls++;
            throw new ZstdContainersException(ErrorCodes.UntrustedAuthChallenge, "no");
        }, CancellationToken.None));
        Assert.Equal(ErrorCodes.UntrustedAuthChallenge, ex.Code);
        Assert.Equal(1, calls);
    }

    private sealed class Pings(Func<Uri, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<Uri> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add(request.RequestUri!);
            return Task.FromResult(answer(request.RequestUri!));
        }
    }

    [Theory]
    [InlineData(false, "http")]
    [InlineData(true, "https")]
    public async Task Scheme_probe_prefers_http_for_an_insecure_registry_unless_it_wants_https(bool wantsHttps, string expected)
    {
        var pings = new Pings(uri => uri.Scheme == "http" && wantsHttps
            ? FakeRegistry.Respond(HttpStatusCode.BadRequest, "Client sent an HTTP request to an HTTPS server.", "text/plain")
            : FakeRegistry.Respond(HttpStatusCode.OK, "{}"));
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", "registry.test:5000"));
        var endpoint = RegistryEndpoint.Create("registry.test:5000", env);
        var log = new CapturingLog();
        using var http = new HttpClient(pings);
        using var auth = new RegistryAuthenticator(endpoint, RegistryAccess.Pull, new CredentialResolver(endpoint, RegistryAccess.Pull, env, log, TimeSpan.FromSeconds(1)), http, TimeProvider.System, log, () => null);
        using var probe = new SchemeHandler(endpoint, http, auth, log, TimeSpan.FromSeconds(5));

        Assert.Null(probe.Decided);
        Assert.Equal(expected, await probe.DecideAsync(CancellationToken.None));
        Assert.Equal(expected, await probe.DecideAsync(CancellationToken.None)); // decided once
        Assert.Equal(expected, probe.Decided);
        Assert.Equal(wantsHttps ? 2 : 1, pings.Seen.Count);
    }

    [Fact]
    public void Scheme_probe_never_pings_a_secure_registry()
    {
        var endpoint = RegistryEndpoint.Create("registry.test", RegistryTestHelpers.Env());
        var log = new CapturingLog();
        using var http = new HttpClient(new Pings(_ => throw new InvalidOperationException("no ping expected")));
        using var auth = new RegistryAuthenticator(endpoint, RegistryAccess.Pull, new CredentialResolver(endpoint, RegistryAccess.Pull, RegistryTestHelpers.Env(), log, TimeSpan.FromSeconds(1)), http, TimeProvider.System, log, () => null);
        using var probe = new SchemeHandler(endpoint, http, auth, log, TimeSpan.FromSeconds(5));
        Assert.Equal("https", probe.Decided);
    }
}
