using System.Net.Http.Headers;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// Credentials against real registries: Distribution with htpasswd (Basic), with token auth served by
/// <see cref="TokenIssuer"/>, and credentials from a docker credential helper. The publishes that succeed run at
/// diagnostic verbosity and their whole output is searched for the secrets.
/// </summary>
[Collection(RigCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RegistryAuthTests(PackageFixture package)
{
    private const string PushUser = "DOTNET_CONTAINER_PUSH_REGISTRY_UNAME";
    private const string PushPassword = "DOTNET_CONTAINER_PUSH_REGISTRY_PWORD";

    private static async Task<RegistryServer> StartHtpasswdRegistryAsync(string name, string password)
    {
        return await RegistryServer.StartAsync(name, new RegistryServer.Options
        {
            AuthSetup = async root =>
            {
                var file = Path.Combine(root, "htpasswd");
                await File.WriteAllTextAsync(file, await Htpasswd.LineAsync(RegistryTestKit.User, password) + "\n");
                return $"""
                      htpasswd:
                        realm: zc-test
                        path: {file}
                    """;
            },
        });
    }

    [Fact]
    public async Task Htpasswd_registry_push_with_the_right_password_succeeds_pulls_and_runs_and_diag_logs_hold_no_secret()
    {
        var password = RegistryTestKit.NewSecret("zc-basic-pw");
        await using var registry = await StartHtpasswdRegistryAsync("basic", password);
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, registry.Address, "it/basic", "v1",
            new Dictionary<string, string?> { [PushUser] = RegistryTestKit.User, [PushPassword] = password },
            "-v:diag");

        result.EnsureSuccess("publish to the htpasswd registry");
        Assert.Contains($"Pushed {registry.Address}/it/basic:v1", result.Output);
        // -v:diag really was diagnostic: the detail lines of our registry client are there
        Assert.Contains($"using credentials from {PushUser}/_PWORD", result.Output);
        var logged = RegistryTestKit.WithoutMsbuildEnvironmentDump(result.Output);
        RegistryTestKit.AssertNoSecret(logged, "the password", password);
        RegistryTestKit.AssertNoSecret(result.Output, "base64 of user:password", RegistryTestKit.BasicValue(RegistryTestKit.User, password));

        // the registry has it only for those who log in, and containerd pulls (verifying every digest) and runs it
        Assert.Null(await ManifestWithoutCredentialsAsync(registry, "it/basic", "v1"));
        Assert.NotNull(await registry.ManifestDigestAsync("it/basic", "v1", RegistryTestKit.BasicHeader(RegistryTestKit.User, password)));
        var output = await RegistryTestKit.PullAndRunAsync($"{registry.Address}/it/basic:v1", $"{RegistryTestKit.User}:{password}");
        Assert.Contains(TestProject.Greeting, output);
    }

    [Fact]
    public async Task Htpasswd_registry_with_a_wrong_password_fails_with_ZSTDC3002_naming_the_source_not_the_password()
    {
        var password = RegistryTestKit.NewSecret("zc-basic-pw");
        var wrong = RegistryTestKit.NewSecret("zc-wrong-pw");
        await using var registry = await StartHtpasswdRegistryAsync("basic-wrong", password);
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, registry.Address, "it/basic-wrong", "v1",
            new Dictionary<string, string?> { [PushUser] = RegistryTestKit.User, [PushPassword] = wrong });

        RegistryTestKit.AssertCleanFailure(result, "ZSTDC3002");
        var error = RegistryTestKit.ErrorLine(result, "ZSTDC3002");
        Assert.Contains(registry.Address, error);
        Assert.Contains(PushUser, error); // which source was tried
        RegistryTestKit.AssertNoSecret(result.Output, "the wrong password", wrong);
        RegistryTestKit.AssertNoSecret(result.Output, "base64 of user:wrong password", RegistryTestKit.BasicValue(RegistryTestKit.User, wrong));
        Assert.Null(await registry.ManifestDigestAsync("it/basic-wrong", "v1", RegistryTestKit.BasicHeader(RegistryTestKit.User, password)));
    }

    [Fact]
    public async Task Htpasswd_registry_without_credentials_fails_with_ZSTDC3002_saying_none_were_found()
    {
        var password = RegistryTestKit.NewSecret("zc-basic-pw");
        await using var registry = await StartHtpasswdRegistryAsync("basic-none", password);
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, registry.Address, "it/basic-none", "v1");

        RegistryTestKit.AssertCleanFailure(result, "ZSTDC3002");
        var error = RegistryTestKit.ErrorLine(result, "ZSTDC3002");
        Assert.Contains(registry.Address, error);
        Assert.Contains("no credentials found", error);
        Assert.Contains(PushUser, error); // what to set
    }

    [Fact]
    public async Task Token_auth_registry_push_gets_a_pull_push_token_and_diag_logs_hold_no_secret()
    {
        var password = RegistryTestKit.NewSecret("zc-token-pw");
        var directory = Directory.CreateTempSubdirectory("zc-token-").FullName;
        try
        {
            using var issuer = new TokenIssuer(directory, RegistryTestKit.User, password);
            await using var registry = await RegistryServer.StartAsync("token", new RegistryServer.Options { AuthYaml = issuer.AuthYaml });
            var project = await RegistryTestKit.SharedProjectAsync(package);

            var result = await RegistryTestKit.PublishAsync(project, registry.Address, "it/token", "v1",
                new Dictionary<string, string?> { [PushUser] = RegistryTestKit.User, [PushPassword] = password },
                "-v:diag");

            result.EnsureSuccess("publish to the token-auth registry\n" + registry.Log);
            Assert.Contains($"Pushed {registry.Address}/it/token:v1", result.Output);
            var requests = issuer.Requests.ToList();
            Assert.Contains(requests, r => r.Authenticated && r.Service == TokenIssuer.Service && r.Scopes.Contains("repository:it/token:pull,push"));
            Assert.All(requests, r => Assert.True(r.Authenticated, "every token request carried the credentials"));
            Assert.NotEmpty(issuer.IssuedTokens);

            RegistryTestKit.AssertNoSecret(RegistryTestKit.WithoutMsbuildEnvironmentDump(result.Output), "the password", password);
            RegistryTestKit.AssertNoSecret(result.Output, "base64 of user:password", RegistryTestKit.BasicValue(RegistryTestKit.User, password));
            foreach (var token in issuer.IssuedTokens)
            {
                RegistryTestKit.AssertNoSecret(result.Output, "a bearer token", token);
                RegistryTestKit.AssertNoSecret(result.Output, "a bearer token's signature", token[(token.LastIndexOf('.') + 1)..]);
            }

            // the registry holds the image, and only gives it out with a token
            Assert.Null(await ManifestWithoutCredentialsAsync(registry, "it/token", "v1"));
            var bearer = new AuthenticationHeaderValue("Bearer", issuer.IssueFor("repository:it/token:pull"));
            Assert.NotNull(await registry.ManifestDigestAsync("it/token", "v1", bearer));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_token_that_the_registry_stops_accepting_mid_push_is_replaced_and_the_push_completes()
    {
        var password = RegistryTestKit.NewSecret("zc-token-pw");
        var directory = Directory.CreateTempSubdirectory("zc-token-").FullName;
        try
        {
            // The registry accepts the first token for about 20 s (its expires_in still says 300 s): the blobs go up with it.
            // A proxy holds the manifest PUT until that token is refused, so the last step of the push meets a
            // token that expired in the middle of the push.
            using var issuer = new TokenIssuer(directory, RegistryTestKit.User, password) { FirstTokenAcceptedFor = TimeSpan.FromSeconds(20) };
            await using var registry = await RegistryServer.StartAsync("token-expiry", new RegistryServer.Options { AuthYaml = issuer.AuthYaml });
            var held = 0;
            await using var proxy = new FaultProxy(registry.EndPoint, request =>
            {
                if (request.IsManifestPut && issuer.FirstTokenRefusedAfter is { } refusedAfter && Interlocked.Exchange(ref held, 1) == 0)
                {
                    var wait = refusedAfter + TimeSpan.FromSeconds(1) - DateTimeOffset.UtcNow;
                    return FaultAction.DelayThenPass(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
                }
                return FaultAction.Pass;
            });
            var project = await RegistryTestKit.SharedProjectAsync(package);

            // The one client gets its token at the start (the layer-cache lookup); base layers kept as they are
            // keep the time from there to the first upload short on a loaded machine, well inside the 20 s.
            var result = await RegistryTestKit.PublishAsync(project, proxy.Address, "it/token-expiry", "v1",
                new Dictionary<string, string?> { [PushUser] = RegistryTestKit.User, [PushPassword] = password },
                "-v:detailed", "-p:ContainerRecompressBaseLayers=false");

            result.EnsureSuccess("publish with a token that expires early\n" + registry.Log);
            // The client used the first token until the registry refused it mid-push (a 401 on a request other
            // than the /v2/ probe: the held manifest PUT, or a request after it when the push outlasts the token),
            // then got a new token, sent that request again and finished the push.
            var events = proxy.EventList.ToList();
            var describe = string.Join("\n", events.Select(e => $"{e.Request.Method} {e.Request.Path} {e.Action} {e.Status}"));
            var firstUpload = events.FindIndex(e => e.Request.IsBlobUploadBody && e.Status == 201);
            var refused = events.FindIndex(e => e.Status == 401 && e.Request.Path != "/v2/");
            Assert.True(firstUpload >= 0 && refused > firstUpload, describe); // blobs went up with the first token, then it was refused
            Assert.Contains(events.Skip(refused + 1), e => e.Request.Method == events[refused].Request.Method && e.Request.Path == events[refused].Request.Path && e.Status < 400); // sent again, accepted
            Assert.Equal(201, events.Last(e => e.Request.IsManifestPut).Status);
            // One client on the registry for the whole publish (the layer-cache lookup reads through the push's client):
            // the short-lived token, then the one that completed the push, both for the push scope.
            Assert.True(issuer.IssuedTokens.Count == 2, describe);
            Assert.All(issuer.Requests, r => Assert.True(r.Authenticated && r.Scopes.SequenceEqual(["repository:it/token-expiry:pull,push"]), string.Join(" ", r.Scopes)));
            var bearer = new AuthenticationHeaderValue("Bearer", issuer.IssueFor("repository:it/token-expiry:pull"));
            Assert.NotNull(await registry.ManifestDigestAsync("it/token-expiry", "v1", bearer));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Token_auth_registry_with_a_wrong_password_fails_with_ZSTDC3002_from_the_token_service()
    {
        var password = RegistryTestKit.NewSecret("zc-token-pw");
        var wrong = RegistryTestKit.NewSecret("zc-wrong-pw");
        var directory = Directory.CreateTempSubdirectory("zc-token-").FullName;
        try
        {
            using var issuer = new TokenIssuer(directory, RegistryTestKit.User, password);
            await using var registry = await RegistryServer.StartAsync("token-wrong", new RegistryServer.Options { AuthYaml = issuer.AuthYaml });
            var project = await RegistryTestKit.SharedProjectAsync(package);

            var result = await RegistryTestKit.PublishAsync(project, registry.Address, "it/token-wrong", "v1",
                new Dictionary<string, string?> { [PushUser] = RegistryTestKit.User, [PushPassword] = wrong });

            RegistryTestKit.AssertCleanFailure(result, "ZSTDC3002");
            var error = RegistryTestKit.ErrorLine(result, "ZSTDC3002");
            Assert.Contains(registry.Address, error);
            Assert.Contains("token service", error);
            Assert.Contains(PushUser, error);
            RegistryTestKit.AssertNoSecret(result.Output, "the wrong password", wrong);
            Assert.Contains(issuer.Requests, r => !r.Authenticated && r.User == RegistryTestKit.User);
            Assert.Empty(issuer.IssuedTokens);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Credentials_from_a_docker_credential_helper_push_to_the_htpasswd_registry()
    {
        var password = RegistryTestKit.NewSecret("zc-helper-pw");
        await using var registry = await StartHtpasswdRegistryAsync("helper", password);
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var directory = Directory.CreateTempSubdirectory("zc-helper-").FullName;
        try
        {
            var bin = Directory.CreateDirectory(Path.Combine(directory, "bin")).FullName;
            var dockerConfig = Directory.CreateDirectory(Path.Combine(directory, "docker")).FullName;
            var calls = Path.Combine(directory, "calls.log");
            var helper = Path.Combine(bin, "docker-credential-zctest");
            // The docker-credential-helpers protocol: "get" with the server URL on stdin, JSON on stdout.
            await File.WriteAllTextAsync(helper, $$"""
                #!/bin/sh
                read -r server
                echo "$1 $server" >> '{{calls}}'
                if [ "$1" = get ] && [ "$server" = '{{registry.Address}}' ]; then
                  printf '{"ServerURL":"%s","Username":"{{RegistryTestKit.User}}","Secret":"{{password}}"}\n' "$server"
                  exit 0
                fi
                echo "credentials not found in native keychain"
                exit 1

                """.Replace("\r\n", "\n"));
            File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            await File.WriteAllTextAsync(Path.Combine(dockerConfig, "config.json"), $$"""
                { "auths": {}, "credHelpers": { "{{registry.Address}}": "zctest" } }
                """);

            var result = await RegistryTestKit.PublishAsync(project, registry.Address, "it/helper", "v1",
                new Dictionary<string, string?>
                {
                    ["DOCKER_CONFIG"] = dockerConfig,
                    ["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
                },
                "-v:diag");

            result.EnsureSuccess("publish with credentials from docker-credential-zctest");
            Assert.Contains($"Pushed {registry.Address}/it/helper:v1", result.Output);
            Assert.Contains("credHelpers 'zctest'", result.Output); // the source is named in the diagnostic log
            // The secret never was in the environment: nothing is masked here.
            RegistryTestKit.AssertNoSecret(result.Output, "the helper's secret", password);
            RegistryTestKit.AssertNoSecret(result.Output, "base64 of user:secret", RegistryTestKit.BasicValue(RegistryTestKit.User, password));
            Assert.Contains($"get {registry.Address}", await File.ReadAllTextAsync(calls));
            Assert.NotNull(await registry.ManifestDigestAsync("it/helper", "v1", RegistryTestKit.BasicHeader(RegistryTestKit.User, password)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Null when the registry refuses an anonymous read (401), so the test knows auth is really on.</summary>
    private static async Task<string?> ManifestWithoutCredentialsAsync(RegistryServer registry, string repository, string tag)
    {
        using var http = registry.ProbeClient(trustAnyCertificate: true);
        using var response = await http.GetAsync($"/v2/{repository}/manifests/{tag}");
        return response.StatusCode == System.Net.HttpStatusCode.Unauthorized ? null : $"{(int)response.StatusCode}";
    }
}
