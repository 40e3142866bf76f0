using System.Text;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

public sealed class CredentialResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zc-creds-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static Task<CredentialLookup> Resolve(string registry, RegistryAccess access, Dictionary<string, string?> env, CapturingLog? log = null) =>
        new CredentialResolver(RegistryEndpoint.Create(registry, env), access, env, log ?? new CapturingLog(), TimeSpan.FromSeconds(10))
            .ResolveAsync(CancellationToken.None);

    private string WriteConfig(string json, string dir = "docker")
    {
        var path = Path.Combine(_root, dir);
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "config.json"), json);
        return path;
    }

    /// <summary>A real docker-credential-NAME shell script on a PATH of its own.</summary>
    private string WriteHelper(string name, string script)
    {
        var bin = Path.Combine(_root, "bin");
        Directory.CreateDirectory(bin);
        var file = Path.Combine(bin, "docker-credential-" + name);
        File.WriteAllText(file, "#!/bin/sh\n" + script);
        File.SetUnixFileMode(file, (UnixFileMode)0b111_101_101);
        return bin;
    }

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static Dictionary<string, string?> AllVariables() => RegistryTestHelpers.Env(
        ("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", "push-user"), ("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD", "push-pw"),
        ("DOTNET_CONTAINER_PULL_REGISTRY_UNAME", "pull-user"), ("DOTNET_CONTAINER_PULL_REGISTRY_PWORD", "pull-pw"),
        ("DOTNET_CONTAINER_REGISTRY_UNAME", "generic-user"), ("DOTNET_CONTAINER_REGISTRY_PWORD", "generic-pw"),
        ("SDK_CONTAINER_REGISTRY_UNAME", "legacy-user"), ("SDK_CONTAINER_REGISTRY_PWORD", "legacy-pw"));

    [Fact]
    public async Task Environment_order_push_then_generic_then_legacy()
    {
        var env = AllVariables();
        Assert.Equal("push-user", (await Resolve("r.example", RegistryAccess.Push, env)).Credential!.Username);
        Assert.Equal("pull-user", (await Resolve("r.example", RegistryAccess.Pull, env)).Credential!.Username);

        env.Remove("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD"); // half a pair does not count
        env.Remove("DOTNET_CONTAINER_PULL_REGISTRY_UNAME");
        var push = (await Resolve("r.example", RegistryAccess.Push, env)).Credential!;
        Assert.Equal("generic-user", push.Username);
        Assert.Equal("DOTNET_CONTAINER_REGISTRY_UNAME/_PWORD", push.Source);
        // The shared pair belongs to the output registry: a base image elsewhere never gets it (the SDK's Pull)…
        Assert.Null((await Resolve("r.example", RegistryAccess.Pull, env)).Credential);
        // …the base image on the output registry does (the SDK's PullFromOutput).
        Assert.Equal("generic-user", (await Resolve("r.example", RegistryAccess.PullFromOutput, env)).Credential!.Username);

        env.Remove("DOTNET_CONTAINER_REGISTRY_UNAME");
        var legacy = (await Resolve("r.example", RegistryAccess.Push, env)).Credential!;
        Assert.Equal("legacy-user", legacy.Username);
        Assert.Equal("SDK_CONTAINER_REGISTRY_UNAME/_PWORD", legacy.Source);
    }

    [Fact]
    public async Task Push_variables_are_not_used_for_pull_and_vice_versa()
    {
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", "u"), ("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD", "p"));
        Assert.Null((await Resolve("r.example", RegistryAccess.Pull, env)).Credential);
        var pull = RegistryTestHelpers.Env(("DOTNET_CONTAINER_PULL_REGISTRY_UNAME", "u"), ("DOTNET_CONTAINER_PULL_REGISTRY_PWORD", "p"));
        Assert.Null((await Resolve("r.example", RegistryAccess.Push, pull)).Credential);
    }

    [Theory]
    [InlineData("DOTNET_CONTAINER_REGISTRY")]
    [InlineData("SDK_CONTAINER_REGISTRY")]
    [InlineData("DOTNET_CONTAINER_PUSH_REGISTRY")]
    public async Task Output_registry_variables_never_reach_a_base_registry_elsewhere(string prefix)
    {
        var env = RegistryTestHelpers.Env((prefix + "_UNAME", "ci-user"), (prefix + "_PWORD", "ci-token"));
        var lookup = await Resolve("mcr.example", RegistryAccess.Pull, env);
        Assert.Null(lookup.Credential);
        Assert.Equal(["DOTNET_CONTAINER_PULL_REGISTRY_UNAME/_PWORD"], lookup.SourcesChecked);
        var fromOutput = (await Resolve("mcr.example", RegistryAccess.PullFromOutput, env)).Credential;
        if (prefix == "DOTNET_CONTAINER_PUSH_REGISTRY")
        {
            Assert.Null(fromOutput); // PullFromOutput: PULL, then the shared pairs, as the SDK; never PUSH
        }
        else
        {
            Assert.Equal("ci-user", fromOutput!.Username);
        }
    }

    [Theory]
    [InlineData("ghcr.example", "ghcr.example", RegistryAccess.PullFromOutput)]
    [InlineData("GHCR.example", "ghcr.example", RegistryAccess.PullFromOutput)]
    [InlineData("mcr.example", "ghcr.example", RegistryAccess.Pull)]
    [InlineData("ghcr.example:443", "ghcr.example", RegistryAccess.Pull)]
    [InlineData("mcr.example", null, RegistryAccess.Pull)]
    [InlineData("mcr.example", "", RegistryAccess.Pull)]
    public void Base_registry_access_is_the_sdks(string baseRegistry, string? outputRegistry, RegistryAccess expected) =>
        Assert.Equal(expected, RegistryAccesses.ForBaseImage(baseRegistry, outputRegistry));

    [Fact]
    public async Task Config_entries_go_only_to_the_registry_they_are_keyed_by()
    {
        var dir = WriteConfig("{\"auths\":{\"other.example\":{\"auth\":\"" + B64("o:o-pw") + "\"},\"r.example:5000\":{\"auth\":\"" + B64("p:p-pw") + "\"}," +
            "\"https://r.example.evil/v1/\":{\"auth\":\"" + B64("e:e-pw") + "\"}}}");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir));
        Assert.Null((await Resolve("r.example", RegistryAccess.Push, env)).Credential);
        Assert.Equal("p", (await Resolve("r.example:5000", RegistryAccess.Push, env)).Credential!.Username);
        Assert.Equal("o", (await Resolve("other.example", RegistryAccess.Pull, env)).Credential!.Username);
    }

    [Fact]
    public async Task Environment_wins_over_config_json()
    {
        var dir = WriteConfig("{\"auths\":{\"r.example\":{\"auth\":\"" + B64("cfg-user:cfg-pw") + "\"}}}");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir), ("DOTNET_CONTAINER_REGISTRY_UNAME", "env-user"), ("DOTNET_CONTAINER_REGISTRY_PWORD", "env-pw"));
        Assert.Equal("env-user", (await Resolve("r.example", RegistryAccess.Push, env)).Credential!.Username);
        env.Remove("DOTNET_CONTAINER_REGISTRY_PWORD");
        Assert.Equal("cfg-user", (await Resolve("r.example", RegistryAccess.Push, env)).Credential!.Username);
    }

    [Fact]
    public async Task Auths_base64_username_password_and_identity_token()
    {
        var dir = WriteConfig($$"""
            {
              "auths": {
                "https://r1.example/v1/": { "auth": "{{B64("user1:pa:ss")}}" },
                "r2.example": { "username": "user2", "password": "pw2" },
                "r3.example": { "auth": "{{B64("someone:")}}", "identitytoken": "refresh-123" },
                "r4.example": {},
                "r5.example": { "auth": "!!!not base64" }
              }
            }
            """);
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir));
        var log = new CapturingLog();

        var c1 = (await Resolve("r1.example", RegistryAccess.Pull, env, log)).Credential!;
        Assert.Equal("user1", c1.Username);
        Assert.Equal("pa:ss", c1.Password); // split at the first colon only
        Assert.Equal("docker config.json auths 'https://r1.example/v1/'", c1.Source);

        var c2 = (await Resolve("r2.example", RegistryAccess.Pull, env)).Credential!;
        Assert.Equal(("user2", "pw2"), (c2.Username, c2.Password));

        var c3 = (await Resolve("r3.example", RegistryAccess.Pull, env)).Credential!;
        Assert.Equal("refresh-123", c3.IdentityToken);

        Assert.Null((await Resolve("r4.example", RegistryAccess.Pull, env)).Credential);
        var log5 = new CapturingLog();
        Assert.Null((await Resolve("r5.example", RegistryAccess.Pull, env, log5)).Credential);
        Assert.Contains("not base64", log5.All);

        Assert.Contains("using credentials from docker config.json auths", log.All);
        Assert.DoesNotContain("pa:ss", log.All);
    }

    [Fact]
    public async Task Docker_hub_matches_the_legacy_index_key()
    {
        var dir = WriteConfig("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + B64("hubuser:hubpw") + "\"}}}");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir));
        Assert.Equal("hubuser", (await Resolve("docker.io", RegistryAccess.Pull, env)).Credential!.Username);
        Assert.Null((await Resolve("ghcr.io", RegistryAccess.Pull, env)).Credential);
    }

    [Fact]
    public async Task Home_docker_config_is_the_default_location_and_podman_files_follow()
    {
        var home = Path.Combine(_root, "home");
        WriteConfig("{\"auths\":{\"a.example\":{\"auth\":\"" + B64("home-user:pw") + "\"}}}", Path.Combine("home", ".docker"));
        var runtime = Path.Combine(_root, "run");
        Directory.CreateDirectory(Path.Combine(runtime, "containers"));
        File.WriteAllText(Path.Combine(runtime, "containers", "auth.json"), "{\"auths\":{\"b.example\":{\"auth\":\"" + B64("podman-user:pw") + "\"}}}");
        var env = RegistryTestHelpers.Env(("HOME", home), ("XDG_RUNTIME_DIR", runtime));

        Assert.Equal("home-user", (await Resolve("a.example", RegistryAccess.Push, env)).Credential!.Username);
        var b = (await Resolve("b.example", RegistryAccess.Push, env)).Credential!;
        Assert.Equal("podman-user", b.Username);
        Assert.Equal("containers auth.json auths 'b.example'", b.Source);
    }

    [Fact]
    public async Task Cred_helper_runs_with_the_server_url_on_stdin()
    {
        var bin = WriteHelper("test", """
            read url
            echo "$url" >> "$(dirname "$0")/asked"
            if [ "$url" = "registry.test" ]; then
              echo '{"ServerURL":"registry.test","Username":"helper-user","Secret":"helper-s3cret"}'
              exit 0
            fi
            echo "credentials not found in native keychain"
            exit 1
            """);
        var dir = WriteConfig("""{"credHelpers":{"registry.test":"test","other.example":"test"},"auths":{"other.example":{"auth":"eDp5"}}}""");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir), ("PATH", bin + ":/usr/bin:/bin"));
        var log = new CapturingLog();

        var lookup = await Resolve("registry.test", RegistryAccess.Push, env, log);
        Assert.Equal("helper-user", lookup.Credential!.Username);
        Assert.Equal("helper-s3cret", lookup.Credential.Password);
        Assert.Equal("docker config.json credHelpers 'test'", lookup.Credential.Source);
        Assert.Contains("credHelpers 'test'", log.All);
        Assert.DoesNotContain("helper-s3cret", log.All);
        Assert.Equal("registry.test", File.ReadAllLines(Path.Combine(bin, "asked"))[0]);

        // "credentials not found" from the helper: fall through to auths.
        var other = await Resolve("other.example", RegistryAccess.Push, env);
        Assert.Equal("x", other.Credential!.Username);
    }

    [Fact]
    public async Task Creds_store_with_token_username_gives_an_identity_token()
    {
        var bin = WriteHelper("store", """
            read url
            echo "{\"ServerURL\":\"$url\",\"Username\":\"<token>\",\"Secret\":\"refresh-xyz\"}"
            """);
        var dir = WriteConfig("""{"credsStore":"store"}""");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir), ("PATH", bin + ":/usr/bin:/bin"));
        var c = (await Resolve("myacr.azurecr.io", RegistryAccess.Push, env)).Credential!;
        Assert.Null(c.Username);
        Assert.Equal("refresh-xyz", c.IdentityToken);
        Assert.Equal("docker config.json credsStore 'store'", c.Source);
    }

    [Fact]
    public async Task Docker_hub_asks_the_helper_for_the_legacy_server_url()
    {
        var bin = WriteHelper("hub", """
            read url
            echo "{\"Username\":\"u\",\"Secret\":\"$url\"}"
            """);
        var dir = WriteConfig("""{"credsStore":"hub"}""");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir), ("PATH", bin + ":/usr/bin:/bin"));
        Assert.Equal("https://index.docker.io/v1/", (await Resolve("docker.io", RegistryAccess.Pull, env)).Credential!.Password);
    }

    [Fact]
    public async Task Missing_helper_warns_and_continues_failing_helper_is_a_coded_error()
    {
        var dir = WriteConfig("""{"credsStore":"desktop"}""");
        var log = new CapturingLog();
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir), ("PATH", Path.Combine(_root, "nothing-here")));
        var lookup = await Resolve("r.example", RegistryAccess.Pull, env, log);
        Assert.Null(lookup.Credential);
        Assert.Contains("docker-credential-desktop", log.All);
        Assert.Contains("no credentials found", lookup.Describe());

        var bin = WriteHelper("broken", """
            echo "error getting credentials - err: exit status 1, out: keychain locked" >&2
            exit 3
            """);
        var dir2 = WriteConfig("""{"credHelpers":{"r.example":"broken"}}""", "docker2");
        var env2 = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir2), ("PATH", bin + ":/usr/bin:/bin"));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => Resolve("r.example", RegistryAccess.Pull, env2));
        Assert.Equal(ErrorCodes.CredentialHelperFailed, ex.Code);
        Assert.Contains("docker-credential-broken", ex.Message);
        Assert.Contains("keychain locked", ex.Message);
    }

    [Fact]
    public async Task Helper_that_hangs_times_out_with_a_coded_error()
    {
        var bin = WriteHelper("slow", "exec sleep 30\n");
        var dir = WriteConfig("""{"credsStore":"slow"}""");
        var env = RegistryTestHelpers.Env(("DOCKER_CONFIG", dir), ("PATH", bin + ":/usr/bin:/bin"));
        var resolver = new CredentialResolver(RegistryEndpoint.Create("r.example", env), RegistryAccess.Pull, env, new CapturingLog(), TimeSpan.FromMilliseconds(300));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => resolver.ResolveAsync(CancellationToken.None));
        Assert.Equal(ErrorCodes.CredentialHelperFailed, ex.Code);
        Assert.Contains("did not answer", ex.Message);
    }

    [Fact]
    public async Task No_credentials_lists_what_was_checked()
    {
        var dir = WriteConfig("""{"auths":{}}""");
        var lookup = await Resolve("r.example", RegistryAccess.Push, RegistryTestHelpers.Env(("DOCKER_CONFIG", dir)));
        Assert.Null(lookup.Credential);
        var text = lookup.Describe();
        Assert.StartsWith("no credentials found", text);
        Assert.Contains("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", text);
        Assert.Contains("config.json", text);
    }

    [Fact]
    public async Task Broken_config_json_is_a_warning_not_a_crash()
    {
        var dir = WriteConfig("{ this is not json");
        var log = new CapturingLog();
        var lookup = await Resolve("r.example", RegistryAccess.Push, RegistryTestHelpers.Env(("DOCKER_CONFIG", dir)), log);
        Assert.Null(lookup.Credential);
        Assert.Contains("warning", log.All);
    }

    [Fact]
    public void Credential_never_prints_its_secret()
    {
        var c = new RegistryCredential("X", "user", "top-secret", "refresh-secret");
        Assert.Equal("X", c.ToString());
        Assert.DoesNotContain("top-secret", $"{c}");
    }
}
