using System.Net;
using System.Text;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

public sealed class RegistryClientAuthTests
{
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}""");

    private static Dictionary<string, string?> PushCredentials(FakeRegistry fake) => RegistryTestHelpers.Env(
        ("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", fake.User), ("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD", fake.Password));

    private static Dictionary<string, string?> Query(Uri uri) =>
        uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .GroupBy(p => p[0])
            .ToDictionary(g => g.Key, g => (string?)string.Join(" ", g.Select(p => Uri.UnescapeDataString(p[1]))));

    [Fact]
    public async Task Anonymous_bearer_token_for_a_public_pull()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true };
        fake.AddManifest("library/ubuntu", "24.04", Manifest, MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var m = await client.GetManifestAsync("library/ubuntu", "24.04", CancellationToken.None);
        Assert.Equal(Manifest, m.Content);

        var token = Assert.Single(fake.TokenRequests);
        Assert.Null(token.Authorization);
        var q = Query(token.Uri);
        Assert.Equal("registry.test", q["service"]);
        Assert.Equal("repository:library/ubuntu:pull", q["scope"]);
    }

    [Fact]
    public async Task Bearer_with_basic_credentials_push_scope_and_a_cached_token()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer };
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, log, PushCredentials(fake)));

        var blob = FakeRegistry.RandomBytes(1000);
        var digest = Digest.Of(blob);
        Assert.False(await client.BlobExistsAsync("team/app", digest, CancellationToken.None));
        await client.UploadBlobAsync("team/app", digest, blob.Length, () => new MemoryStream(blob), CancellationToken.None);
        Assert.True(await client.BlobExistsAsync("team/app", digest, CancellationToken.None));
        await client.PutManifestAsync("team/app", "1.0", Manifest, MediaTypes.OciManifest, CancellationToken.None);

        var token = Assert.Single(fake.TokenRequests); // one token for the whole push
        Assert.Equal("Basic " + FakeRegistry.BasicValue(fake.User, fake.Password), token.Authorization);
        var q = Query(token.Uri);
        Assert.Equal("repository:team/app:pull,push", q["scope"]);
        Assert.Equal(fake.User, q["account"]);
        Assert.Single(fake.Requests, r => r.Uri.Host == "registry.test" && r.Authorization is null); // only the very first one was anonymous
        Assert.Contains("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME/_PWORD", log.All);
        Assert.DoesNotContain(fake.Password, log.All);
        Assert.DoesNotContain("tok-", log.All);
    }

    [Fact]
    public async Task Access_token_field_is_accepted()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true, TokenAsAccessToken = true };
        fake.AddManifest("a", "t", Manifest, MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var manifest = await client.GetManifestAsync("a", "t", CancellationToken.None);

        Assert.Equal(Manifest, manifest.Content);
        Assert.Single(fake.TokenRequests);
        var last = fake.RequestsTo("/manifests/").Last();
        Assert.StartsWith("Bearer tok-", last.Authorization); // the access_token was what the registry accepted
        Assert.True(fake.TokenAllows(last.Authorization!["Bearer ".Length..], "a:pull"));
    }

    [Fact]
    public async Task Mount_asks_for_pull_on_the_source_repository_too()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer };
        var blob = FakeRegistry.RandomBytes(500);
        fake.AddBlob("dotnet/aspnet", blob);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));

        Assert.True(await client.TryMountBlobAsync("team/app", Digest.Of(blob), "dotnet/aspnet", CancellationToken.None));
        Assert.True(fake.HasBlob("team/app", Digest.Of(blob)));

        var token = Assert.Single(fake.TokenRequests);
        var scopes = token.Uri.Query.Split('&').Where(p => p.StartsWith("scope=") || p.StartsWith("?scope=")).Select(p => Uri.UnescapeDataString(p.Split('=')[1])).ToList();
        Assert.Equal(["repository:team/app:pull,push", "repository:dotnet/aspnet:pull"], scopes);
    }

    [Fact]
    public async Task Identity_token_uses_the_oauth_refresh_token_grant()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, RefreshToken = "refresh-abc-123" };
        var dir = Directory.CreateTempSubdirectory("zc-idtok-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"auths":{"registry.test":{"identitytoken":"refresh-abc-123"}}}""");
            var log = new CapturingLog();
            using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push,
                RegistryTestHelpers.Options(fake, log, RegistryTestHelpers.Env(("DOCKER_CONFIG", dir))));
            await client.PutManifestAsync("app", "v1", Manifest, MediaTypes.OciManifest, CancellationToken.None);

            var token = Assert.Single(fake.TokenRequests);
            Assert.Equal("POST", token.Method);
            Assert.Contains("grant_type=refresh_token", token.Body);
            Assert.Contains("refresh_token=refresh-abc-123", token.Body);
            Assert.Contains("scope=repository%3Aapp%3Apull%2Cpush", token.Body);
            Assert.Contains("service=registry.test", token.Body);
            Assert.DoesNotContain("refresh-abc-123", log.All);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Basic_challenge_sends_basic_credentials()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Basic };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));

        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        var requests = fake.Requests.ToList();
        Assert.Equal(3, requests.Count); // 401, then with Basic, then Basic up front
        Assert.Null(requests[0].Authorization);
        Assert.All(requests.Skip(1), r => Assert.Equal("Basic " + FakeRegistry.BasicValue(fake.User, fake.Password), r.Authorization));
        Assert.Empty(fake.TokenRequests);
    }

    [Fact]
    public async Task Expired_token_is_refreshed()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true, TokenExpiresIn = 60 };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        var time = new ManualTime();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake) with { TimeProvider = time });

        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        time.Now += TimeSpan.FromSeconds(30);
        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        Assert.Single(fake.TokenRequests);

        time.Now += TimeSpan.FromSeconds(30); // past expires_in minus the margin
        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        Assert.Equal(2, fake.TokenRequests.Count());
        // The refresh happened up front: no request went out with the stale token.
        // (first call: 401 then 200; the others: 200 straight away)
        Assert.Equal(4, fake.RequestsTo("/manifests/").Count());
    }

    [Fact]
    public async Task Token_rejected_later_is_refreshed_once()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        fake.RevokeTokens();
        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        Assert.Equal(2, fake.TokenRequests.Count());
    }

    [Fact]
    public async Task Wrong_password_is_a_coded_error_naming_the_source_without_the_secret()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer };
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", "alice"), ("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD", "wrong-Passw0rd-XYZ"));
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, log, env));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.BlobExistsAsync("app", Digest.Of([1]), CancellationToken.None));
        Assert.Equal(ErrorCodes.AuthenticationFailed, ex.Code);
        Assert.Contains("registry.test", ex.Message);
        Assert.Contains("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", ex.Message);
        Assert.Contains("401", ex.Message);
        Assert.DoesNotContain("wrong-Passw0rd-XYZ", ex.Message);
        Assert.DoesNotContain(FakeRegistry.BasicValue("alice", "wrong-Passw0rd-XYZ"), ex.Message);
        Assert.DoesNotContain("wrong-Passw0rd-XYZ", log.All);
        Assert.Single(fake.TokenRequests); // not retried
    }

    [Fact]
    public async Task Private_repository_without_credentials_says_none_were_found()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer }; // anonymous tokens grant nothing
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("private/app", "v1", CancellationToken.None));
        Assert.Equal(ErrorCodes.AuthenticationFailed, ex.Code);
        Assert.Contains("no credentials found", ex.Message);
        Assert.Contains("docker login registry.test", ex.Message);
        Assert.Contains("DOTNET_CONTAINER_PULL_REGISTRY_UNAME", ex.Message);
        // One anonymous try, one with a token, one with a fresh token: then it gives up.
        Assert.InRange(fake.RequestsTo("/manifests/").Count(), 2, 3);
    }

    [Fact]
    public async Task Shared_variables_are_never_offered_to_a_base_registry()
    {
        // The SDK uses DOTNET_CONTAINER_REGISTRY_* for the output registry only: a base image on another
        // registry is pulled anonymously (or with the PULL variables), never with them.
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true };
        fake.AddManifest("dotnet/aspnet", "10.0", Manifest, MediaTypes.OciManifest);
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_REGISTRY_UNAME", "for-my-acr"), ("DOTNET_CONTAINER_REGISTRY_PWORD", "acr-pw"));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake, environment: env));

        await client.GetManifestAsync("dotnet/aspnet", "10.0", CancellationToken.None);
        var token = Assert.Single(fake.TokenRequests);
        Assert.Null(token.Authorization);
        Assert.DoesNotContain("for-my-acr", token.Uri.Query);
    }

    [Fact]
    public async Task Plain_http_token_realm_is_refused_for_a_secure_registry()
    {
        var fake = new FakeRegistry
        {
            Intercept = (req, _) =>
            {
                if (req.RequestUri!.Host != "registry.test")
                {
                    return Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.OK, "{\"token\":\"t\"}"));
                }
                var r = FakeRegistry.Respond(HttpStatusCode.Unauthorized);
                r.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer realm=\"http://evil.example/token\",service=\"x\"");
                return Task.FromResult<HttpResponseMessage?>(r);
            },
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.BlobExistsAsync("app", Digest.Of([1]), CancellationToken.None));
        Assert.Equal(ErrorCodes.UnsafeTokenRealm, ex.Code);
        Assert.Contains("plain HTTP", ex.Message);
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Host == "evil.example");
    }

    [Fact]
    public async Task Concurrent_requests_share_one_token_fetch()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));
        // Learn the challenge first, then race.
        await client.BlobExistsAsync("app", Digest.Of([0]), CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(1, 20).Select(i => client.BlobExistsAsync("app", Digest.Of([(byte)i]), CancellationToken.None)));
        Assert.Single(fake.TokenRequests);
    }
}
