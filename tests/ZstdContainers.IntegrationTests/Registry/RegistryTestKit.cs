using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// What the registry tests share: one console project (restored and built once, then published many times),
/// a publish that is hermetic about credentials, the checks every expected failure must pass, and ctr.
/// </summary>
internal static partial class RegistryTestKit
{
    public const string User = "zcuser";

    private static readonly Dictionary<string, Task<TestProject>> Projects = [];

    /// <summary>The project the registry tests publish; created once per package under test.</summary>
    public static Task<TestProject> SharedProjectAsync(PackageFixture package)
    {
        lock (Projects)
        {
            if (!Projects.TryGetValue(package.Version, out var project))
            {
                project = TestProject.CreateAsync(package, "registry-app");
                Projects[package.Version] = project;
            }
            return project;
        }
    }

    /// <summary>A password no log could contain by chance.</summary>
    public static string NewSecret(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..20];

    public static string BasicValue(string user, string password) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));

    public static AuthenticationHeaderValue BasicHeader(string user, string password) => new("Basic", BasicValue(user, password));

    /// <summary>
    /// `dotnet publish -t:PublishContainer -p:ContainerLayerCompression=zstd` to <paramref name="registry"/>, the base
    /// image staying on the rig's registry. No credential reaches the build unless <paramref name="environment"/>
    /// gives it: the credential variables are removed and DOCKER_CONFIG points at an empty folder.
    /// -nodeReuse:false: every publish gets fresh MSBuild processes, so none inherits another's environment or
    /// certificate store.
    /// </summary>
    public static async Task<CommandResult> PublishAsync(
        TestProject project, string registry, string repository, string tag,
        IDictionary<string, string?>? environment = null, params string[] extraArguments)
    {
        var emptyDockerConfig = Directory.CreateTempSubdirectory("zc-no-docker-config-").FullName;
        try
        {
            var env = new Dictionary<string, string?>
            {
                ["DOCKER_CONFIG"] = emptyDockerConfig,
                ["REGISTRY_AUTH_FILE"] = null,
                ["XDG_RUNTIME_DIR"] = null,
            };
            foreach (var access in new[] { "PUSH_", "PULL_", string.Empty })
            {
                env[$"DOTNET_CONTAINER_{access}REGISTRY_UNAME"] = null;
                env[$"DOTNET_CONTAINER_{access}REGISTRY_PWORD"] = null;
            }
            env["SDK_CONTAINER_REGISTRY_UNAME"] = null;
            env["SDK_CONTAINER_REGISTRY_PWORD"] = null;
            foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            {
                env[key] = value;
            }
            var result = await project.PublishAsync(
                repository, tag,
                ["-p:ContainerLayerCompression=zstd", "-p:ContainerRegistry=" + registry, "-nodeReuse:false", .. extraArguments],
                env, useRegistry: false);
            // ZC_REGISTRY_TEST_LOGS=DIR keeps every publish's output, for looking at what the client did.
            if (Environment.GetEnvironmentVariable("ZC_REGISTRY_TEST_LOGS") is { Length: > 0 } logs)
            {
                Directory.CreateDirectory(logs);
                var file = $"{DateTime.UtcNow:HHmmss.fff}-{repository.Replace('/', '_')}-{tag}-exit{result.ExitCode}.log";
                await File.WriteAllTextAsync(Path.Combine(logs, file), result.Output);
            }
            return result;
        }
        finally
        {
            Directory.Delete(emptyDockerConfig, recursive: true);
        }
    }

    /// <summary>What every expected failure must look like: a non-zero exit, our code as an MSBuild error, no stack trace.</summary>
    public static void AssertCleanFailure(CommandResult result, string code)
    {
        Assert.True(result.ExitCode != 0, "the publish should have failed:\n" + Tail(result.Output));
        Assert.True(result.Output.Contains($"error {code}:", StringComparison.Ordinal), $"expected 'error {code}:' in:\n" + Tail(result.Output));
        Assert.DoesNotContain("   at ", result.Output);       // no stack trace
        Assert.DoesNotContain("MSB4018", result.Output);      // "The task failed unexpectedly"
        Assert.DoesNotContain("Unhandled exception", result.Output);
    }

    /// <summary>The error line with the code, for messages and reports.</summary>
    public static string ErrorLine(CommandResult result, string code) =>
        result.Output.Split('\n').FirstOrDefault(l => l.Contains($"error {code}:", StringComparison.Ordinal))?.Trim() ?? "(none)";

    public static void AssertNoSecret(string output, string what, string secret)
    {
        Assert.False(string.IsNullOrEmpty(secret));
        var places = new List<string>();
        for (var at = output.IndexOf(secret, StringComparison.Ordinal); at >= 0; at = output.IndexOf(secret, at + 1, StringComparison.Ordinal))
        {
            places.Add("…" + output[Math.Max(0, at - 300)..Math.Min(output.Length, at + secret.Length + 100)].Replace(secret, "<SECRET>") + "…");
        }
        Assert.True(places.Count == 0, $"{what} appears {places.Count} time(s) in the output:\n" + string.Join("\n-----\n", places.Take(6)));
    }

    /// <summary>
    /// At diagnostic verbosity MSBuild itself prints the environment and every project's initial properties, so a
    /// password given in DOTNET_CONTAINER_*_PWORD shows there as "NAME = value", before any task of ours runs (the
    /// SDK's own container path is no different). Those lines are masked; everything else stays to be scanned.
    /// Credentials from docker's config.json or a credential helper never pass through the environment.
    /// </summary>
    public static string WithoutMsbuildEnvironmentDump(string output) => MsbuildEnvironmentLine().Replace(output, "$1 = <masked: MSBuild's environment dump>");

    [System.Text.RegularExpressions.GeneratedRegex(@"^(\s*(?:DOTNET_CONTAINER_(?:PUSH_|PULL_)?REGISTRY_PWORD|SDK_CONTAINER_REGISTRY_PWORD)) = [^\r\n]*", System.Text.RegularExpressions.RegexOptions.Multiline)]
    private static partial System.Text.RegularExpressions.Regex MsbuildEnvironmentLine();

    public static string Tail(string output, int chars = 6000) => output.Length <= chars ? output : "…" + output[^chars..];

    // ---------------------------------------------------------------- containerd

    private static IEnumerable<string> Ctr(params string[] args) => ["-a", Rig.ContainerdAddress, .. args];

    /// <summary>ctr pull over plain HTTP (it checks every digest and diff_id while unpacking), with credentials if given.</summary>
    public static async Task<CommandResult> CtrPullAsync(string reference, string? userAndPassword = null)
    {
        await Command.RunAsync("ctr", Ctr("images", "rm", reference));
        var args = new List<string> { "images", "pull", "--plain-http", "--snapshotter", Rig.Snapshotter };
        if (userAndPassword is not null)
        {
            args.AddRange(["--user", userAndPassword]);
        }
        args.Add(reference);
        return await Command.RunAsync("ctr", Ctr([.. args]), timeout: TimeSpan.FromMinutes(3));
    }

    public static Task<CommandResult> CtrRemoveAsync(string reference) => Command.RunAsync("ctr", Ctr("images", "rm", reference));

    /// <summary>Pull and run (the image is removed afterwards); returns what the container printed.</summary>
    public static async Task<string> PullAndRunAsync(string reference, string? userAndPassword = null)
    {
        (await CtrPullAsync(reference, userAndPassword)).EnsureSuccess("ctr pull " + reference);
        var run = await Containerd.RunAsync(reference);
        run.EnsureSuccess("ctr run " + reference);
        return run.Output;
    }

    // ---------------------------------------------------------------- TLS

    public const string TlsHostName = "zc-registry.test";

    /// <summary>
    /// A name for a TLS registry that resolves to loopback only but is not itself "localhost" or an IP literal: those
    /// two are insecure registries by rule (plain HTTP, no certificate check, as with docker and the SDK), so a
    /// certificate test needs a real name, and the SDK wants a dot in it. eng/registry-hosts.sh puts
    /// "zc-registry.test" (a reserved test TLD) in /etc/hosts when it is not there yet.
    /// </summary>
    public static async Task<(string Name, IPAddress Address)> LoopbackHostNameAsync()
    {
        (await Command.RunAsync("bash", [Path.Combine(Rig.RepoRoot, "eng", "registry-hosts.sh"), TlsHostName])).EnsureSuccess("eng/registry-hosts.sh");
        var addresses = await Dns.GetHostAddressesAsync(TlsHostName);
        Assert.True(addresses.Length > 0 && addresses.All(IPAddress.IsLoopback),
            $"{TlsHostName} must resolve to loopback addresses only; it resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}");
        return (TlsHostName, addresses.First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork));
    }
}
