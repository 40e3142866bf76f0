using System.Net;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

public sealed class RegistryEndpointTests
{
    [Theory]
    [InlineData("localhost", null, true)]
    [InlineData("localhost:5000", null, true)]
    [InlineData("127.0.0.1:5077", null, true)]
    [InlineData("127.0.0.1", null, true)]
    [InlineData("[::1]:5000", null, true)]
    [InlineData("[::1]", null, true)]
    [InlineData("myacr.azurecr.io", null, false)]
    [InlineData("docker.io", null, false)]
    [InlineData("10.0.0.5:5000", null, false)]
    [InlineData("public.ecr.aws", "public.ecr.aws", true)]
    [InlineData("public.ecr.aws", "Public.ECR.aws", true)] // case-insensitive
    [InlineData("reg.corp:5000", "a.example, reg.corp:5000 ,b.example", true)] // comma list, spaces
    [InlineData("reg.corp:5000", ";reg.corp:5000 ;  docker.io ", true)] // the SDK's semicolons
    [InlineData("reg.corp:5000", "reg.corp", false)] // full name match: the port is part of it
    [InlineData("reg.corp", "reg.corp:5000", false)]
    [InlineData("public.ecr.aws", "public.ecr.aws2", false)]
    [InlineData("reg.corp:5000", "http://reg.corp:5000/", true)] // scheme written by habit
    public void Insecure_registries_are_loopback_or_listed(string registry, string? list, bool insecure)
    {
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", list));
        Assert.Equal(insecure, RegistryEndpoint.Create(registry, env).IsInsecure);
    }

    [Fact]
    public void Secure_registry_uses_https_and_the_client_reports_it()
    {
        using var client = new RegistryClient("myacr.azurecr.io", RegistryAccess.Pull, new RegistryClientOptions { Environment = RegistryTestHelpers.Env() });
        Assert.False(client.IsInsecure);
        using var local = new RegistryClient("127.0.0.1:5077", RegistryAccess.Pull, new RegistryClientOptions { Environment = RegistryTestHelpers.Env() });
        Assert.True(local.IsInsecure);
    }

    [Theory]
    [InlineData("docker.io", "registry-1.docker.io")]
    [InlineData("index.docker.io", "registry-1.docker.io")]
    [InlineData("registry-1.docker.io", "registry-1.docker.io")]
    [InlineData("ghcr.io", "ghcr.io")]
    [InlineData("127.0.0.1:5077", "127.0.0.1:5077")]
    [InlineData("[::1]:5000", "[::1]:5000")]
    public void Api_host(string registry, string authority) =>
        Assert.Equal(authority, RegistryEndpoint.Create(registry, RegistryTestHelpers.Env()).ApiAuthority);

    [Theory]
    [InlineData("docker.io", "https://index.docker.io/v1/", true)]
    [InlineData("docker.io", "docker.io", true)]
    [InlineData("docker.io", "index.docker.io", true)]
    [InlineData("myreg.example.com", "https://myreg.example.com/v1/", true)]
    [InlineData("myreg.example.com", "http://myreg.example.com", true)]
    [InlineData("myreg.example.com", "MyReg.Example.com", true)]
    [InlineData("myreg.example.com:5000", "myreg.example.com", false)]
    [InlineData("myreg.example.com", "myreg.example.com:5000", false)]
    [InlineData("ghcr.io", "https://index.docker.io/v1/", false)]
    public void Config_keys_match_like_docker(string registry, string key, bool matches) =>
        Assert.Equal(matches, RegistryEndpoint.Create(registry, RegistryTestHelpers.Env()).MatchesServerKey(key));

    [Theory]
    [InlineData("")]
    [InlineData("host/repo")]
    [InlineData("a b")]
    public void Bad_registry_names_are_rejected(string registry) =>
        Assert.Throws<ArgumentException>(() => RegistryEndpoint.Create(registry, RegistryTestHelpers.Env()));
}

public sealed class AuthChallengeTests
{
    [Fact]
    public void Bearer_with_quoted_commas()
    {
        var c = AuthChallenge.Select([
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/ubuntu:pull,push\",error=\"insufficient_scope\""]);
        Assert.NotNull(c);
        Assert.True(c.IsBearer);
        Assert.Equal("https://auth.docker.io/token", c.Realm);
        Assert.Equal("registry.docker.io", c.Service);
        Assert.Equal("repository:library/ubuntu:pull,push", c.Scope);
        Assert.Equal("insufficient_scope", c.Error);
    }

    [Fact]
    public void Basic_alone_and_bearer_preferred_when_both_are_offered()
    {
        var basic = AuthChallenge.Select(["Basic realm=\"Registry Realm\""]);
        Assert.NotNull(basic);
        Assert.True(basic.IsBasic);
        Assert.Equal("Registry Realm", basic.Realm);

        var both = AuthChallenge.Select(["Basic realm=\"x\", Bearer realm=\"https://a/token\", service=\"a\""]);
        Assert.NotNull(both);
        Assert.True(both.IsBearer);
        Assert.Equal("a", both.Service);

        var twoHeaders = AuthChallenge.Select(["Basic realm=\"x\"", "bearer realm=https://b/token,service=b"]);
        Assert.NotNull(twoHeaders);
        Assert.True(twoHeaders.IsBearer);
        Assert.Equal("https://b/token", twoHeaders.Realm);
    }

    [Fact]
    public void Escapes_and_odd_input()
    {
        var c = AuthChallenge.ParseAll("Bearer realm=\"https://a/t\\\"x\" , service = \"s\"");
        Assert.Single(c);
        Assert.Equal("https://a/t\"x", c[0].Realm);
        Assert.Equal("s", c[0].Service);

        Assert.Null(AuthChallenge.Select(["Negotiate abc=="]));
        Assert.Null(AuthChallenge.Select(["Bearer service=\"no realm\""]));
        Assert.Empty(AuthChallenge.ParseAll(""));
    }
}

public sealed class RetryPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("120", 120)]
    [InlineData(" 0 ", 0)]
    [InlineData("Sun, 01 Mar 2026 12:00:30 GMT", 30)]
    [InlineData("Sun, 01 Mar 2026 11:00:00 GMT", 0)] // in the past: now
    public void Retry_after_seconds_or_http_date(string value, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryPolicy.ParseRetryAfter(value, Now));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-5")]
    public void Retry_after_garbage_is_ignored(string? value) => Assert.Null(RetryPolicy.ParseRetryAfter(value, Now));

    [Fact]
    public void Backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after()
    {
        var policy = new RetryPolicy(new RegistryClientOptions
        {
            RetryBaseDelay = TimeSpan.FromSeconds(1),
            MaxRetryDelay = TimeSpan.FromSeconds(10),
            Environment = RegistryTestHelpers.Env(),
        });
        for (var i = 0; i < 50; i++)
        {
            var d1 = policy.NextDelay(1, null);
            Assert.InRange(d1.TotalSeconds, 0.5, 1.0);
            var d3 = policy.NextDelay(3, null);
            Assert.InRange(d3.TotalSeconds, 2.0, 4.0);
            var d10 = policy.NextDelay(10, null);
            Assert.InRange(d10.TotalSeconds, 5.0, 10.0);
        }
        Assert.Equal(TimeSpan.FromSeconds(42), policy.NextDelay(1, TimeSpan.FromSeconds(42)));
    }

    [Theory]
    [InlineData(HttpStatusCode.RequestTimeout, true)]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.BadGateway, true)]
    [InlineData(HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(HttpStatusCode.GatewayTimeout, true)]
    [InlineData(HttpStatusCode.NotImplemented, false)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    [InlineData(HttpStatusCode.NotFound, false)]
    [InlineData(HttpStatusCode.Unauthorized, false)]
    public void Retryable_statuses(HttpStatusCode status, bool retryable) =>
        Assert.Equal(retryable, RetryPolicy.IsRetryableStatus(status));

    [Fact]
    public void Oci_error_bodies_are_condensed()
    {
        var body = System.Text.Encoding.UTF8.GetBytes(FakeRegistry.OciError("MANIFEST_INVALID", "manifest invalid"));
        Assert.Equal("MANIFEST_INVALID: manifest invalid", RegistryErrors.DescribeBody(body, "application/json"));
        Assert.Null(RegistryErrors.DescribeBody(System.Text.Encoding.UTF8.GetBytes("<html><body>502</body></html>"), "text/html"));
        Assert.Equal("upstream went away", RegistryErrors.DescribeBody(System.Text.Encoding.UTF8.GetBytes("upstream\n went away\n"), "text/plain"));
        Assert.True(RegistryErrors.HasErrorCode(System.Text.Encoding.UTF8.GetBytes(FakeRegistry.OciError("DIGEST_INVALID", "x")), "DIGEST_INVALID"));
    }
}
