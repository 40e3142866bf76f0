using System.Diagnostics;
using System.Text;
using ZstdContainers.Destinations;
using ZstdContainers.Processes;

using ZstdContainers.Tests.Destinations;

namespace ZstdContainers.IntegrationTests.Destinations;

/// <summary>Finds the real tools (ctr, containerd, podman, docker, busybox) the peer tests talk to.</summary>
internal static class PeerTools
{
    public const string RigEnvFile = "/tmp/zstdcontainers-rig/env.sh";

    public static string? FindOnPath(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/local/sbin", "/usr/sbin", "/sbin"]))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & UnixFileMode.UserExecute) != 0)
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>
    /// The containerd of the test rig (eng/start-services.sh): ZC_CONTAINERD_ADDRESS from the
    /// environment or from the rig's env.sh, when its socket exists.
    /// </summary>
    public static (string Address, string Snapshotter)? RigContainerd()
    {
        var address = Environment.GetEnvironmentVariable("ZC_CONTAINERD_ADDRESS");
        var snapshotter = Environment.GetEnvironmentVariable("ZC_CONTAINERD_SNAPSHOTTER");
        var envFile = Environment.GetEnvironmentVariable("ZC_STATE") is { Length: > 0 } state ? Path.Combine(state, "env.sh") : RigEnvFile;
        if (string.IsNullOrEmpty(address) && File.Exists(envFile))
        {
            foreach (var line in File.ReadLines(envFile))
            {
                address = Value(line, "ZC_CONTAINERD_ADDRESS") ?? address;
                snapshotter = Value(line, "ZC_CONTAINERD_SNAPSHOTTER") ?? snapshotter;
            }
        }
        return string.IsNullOrEmpty(address) || !File.Exists(address)
            ? null
            : (address, string.IsNullOrEmpty(snapshotter) ? "overlayfs" : snapshotter);

        static string? Value(string line, string name)
        {
            var prefix = "export " + name + "=";
            return line.StartsWith(prefix, StringComparison.Ordinal) ? line[prefix.Length..].Trim().Trim('"') : null;
        }
    }

    /// <summary>Why containerd tests cannot run here, or null when they can.</summary>
    public static string? ContainerdUnavailableReason()
    {
        if (FindOnPath("ctr") is null)
        {
            return "ctr is not installed (apt-get install containerd runc)";
        }
        if (RigContainerd() is null)
        {
            if (FindOnPath("containerd") is null)
            {
                return "no rig containerd (eng/start-services.sh) and no containerd binary to start one";
            }
            if (!Environment.IsPrivilegedProcess)
            {
                return "no rig containerd, and starting one needs root";
            }
        }
        return TestImages.FindStaticBusybox() is null ? "no static busybox to put in the test image (apt-get install busybox-static)" : null;
    }

    public static string? PodmanUnavailableReason() =>
        FindOnPath("podman") is null ? "podman is not installed (apt-get install podman)"
        : TestImages.FindStaticBusybox() is null ? "no static busybox to put in the test image (apt-get install busybox-static)"
        : null;

    private static readonly Lazy<bool> DockerDaemonAnswers = new(() =>
    {
        if (FindOnPath("docker") is null)
        {
            return false;
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var result = ProcessCommandRunner.Instance
                .RunAsync(new CommandRequest("docker", ["version", "--format", "{{.Server.Version}}"]), cts.Token)
                .GetAwaiter().GetResult();
            return result.Succeeded && result.StandardOutput.Trim().Length > 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    });

    public static bool DockerCliPresent => FindOnPath("docker") is not null;

    public static bool DockerDaemonRunning => DockerDaemonAnswers.Value;

    /// <summary>Runs a tool and fails the test with its output when it does not succeed.</summary>
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        var request = new CommandRequest(fileName, arguments.ToList()) { Environment = environment };
        var result = await ProcessCommandRunner.Instance.RunAsync(request, cts.Token);
        Assert.True(
            result.Succeeded,
            $"'{request.DisplayText}' failed (started: {result.Started}, exit code {result.ExitCode}):\n{result.StandardError}\n{result.StandardOutput}");
        return result.StandardOutput;
    }
}

/// <summary>A fact that is skipped, with the reason, when a tool it needs is not on this machine.</summary>
public sealed class ContainerdFactAttribute : FactAttribute
{
    public ContainerdFactAttribute()
    {
        if (PeerTools.ContainerdUnavailableReason() is { } reason)
        {
            Skip = "containerd peer test skipped: " + reason;
        }
    }
}

public sealed class PodmanFactAttribute : FactAttribute
{
    public PodmanFactAttribute()
    {
        if (PeerTools.PodmanUnavailableReason() is { } reason)
        {
            Skip = "podman peer test skipped: " + reason;
        }
    }
}

public sealed class DockerDaemonFactAttribute : FactAttribute
{
    public DockerDaemonFactAttribute()
    {
        if (!PeerTools.DockerDaemonRunning)
        {
            Skip = "docker peer test skipped: no docker CLI with a running daemon (docker version --format {{.Server.Version}} fails)";
        }
        else if (TestImages.FindStaticBusybox() is null)
        {
            Skip = "docker peer test skipped: no static busybox to put in the test image (apt-get install busybox-static)";
        }
    }
}

public sealed class DockerWithoutDaemonFactAttribute : FactAttribute
{
    public DockerWithoutDaemonFactAttribute()
    {
        if (!PeerTools.DockerCliPresent || PeerTools.DockerDaemonRunning)
        {
            Skip = "needs a docker CLI whose daemon is not running (this machine has " + (PeerTools.DockerCliPresent ? "a running daemon" : "no docker CLI") + ")";
        }
    }
}

/// <summary>
/// A containerd to import into: the rig's when it runs, else a private one started here (own root,
/// state and socket under a temp dir, CRI off, native snapshotter) and stopped on dispose.
/// </summary>
internal sealed class ContainerdPeer : IAsyncDisposable
{
    private readonly Process? _ownDaemon;
    private readonly string? _ownDirectory;
    private readonly StringBuilder _ownLog = new();

    private ContainerdPeer(string address, string snapshotter, Process? ownDaemon, string? ownDirectory)
    {
        Address = address;
        Snapshotter = snapshotter;
        _ownDaemon = ownDaemon;
        _ownDirectory = ownDirectory;
    }

    public string Address { get; }

    public string Snapshotter { get; }

    public string Namespace { get; } = "zc-destinations-tests";

    public static async Task<ContainerdPeer> StartAsync()
    {
        if (PeerTools.RigContainerd() is { } rig)
        {
            return new ContainerdPeer(rig.Address, rig.Snapshotter, null, null);
        }

        // Short path: a unix socket path must stay under 108 bytes.
        var directory = Directory.CreateTempSubdirectory("zcd-").FullName;
        var socket = Path.Combine(directory, "c.sock");
        var config = Path.Combine(directory, "config.toml");
        await File.WriteAllTextAsync(config, $"""
            version = 2
            root = "{directory}/root"
            state = "{directory}/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "{socket}"
            [ttrpc]
              address = "{socket}.ttrpc"
            [debug]
              address = ""
            [metrics]
              address = ""
            [plugins."io.containerd.internal.v1.opt"]
              path = "{directory}/opt"
            """);
        var daemon = new Process
        {
            StartInfo = new ProcessStartInfo(PeerTools.FindOnPath("containerd")!, ["--config", config])
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            },
        };
        var peer = new ContainerdPeer(socket, "native", daemon, directory);
        daemon.OutputDataReceived += (_, e) => peer.AppendLog(e.Data);
        daemon.ErrorDataReceived += (_, e) => peer.AppendLog(e.Data);
        daemon.Start();
        daemon.BeginOutputReadLine();
        daemon.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var probe = await ProcessCommandRunner.Instance.RunAsync(new CommandRequest("ctr", ["-a", socket, "version"]), CancellationToken.None);
            if (probe.Succeeded)
            {
                return peer;
            }
            if (daemon.HasExited)
            {
                break;
            }
            await Task.Delay(200);
        }
        var log = peer.Log;
        await peer.DisposeAsync();
        Assert.Fail($"containerd started for the test did not answer on {socket} within 30 s:\n{log}");
        throw new InvalidOperationException("unreachable");
    }

    private string Log
    {
        get
        {
            lock (_ownLog)
            {
                return _ownLog.ToString();
            }
        }
    }

    private void AppendLog(string? line)
    {
        if (line is not null)
        {
            lock (_ownLog)
            {
                _ownLog.AppendLine(line);
            }
        }
    }

    /// <summary>ctr with the address and the test namespace.</summary>
    public Task<string> CtrAsync(params string[] arguments) =>
        PeerTools.RunAsync("ctr", new[] { "-a", Address, "-n", Namespace }.Concat(arguments));

    public async ValueTask DisposeAsync()
    {
        if (_ownDaemon is not null)
        {
            if (!_ownDaemon.HasExited)
            {
                _ownDaemon.Kill(entireProcessTree: true);
                await _ownDaemon.WaitForExitAsync();
            }
            _ownDaemon.Dispose();
        }
        if (_ownDirectory is not null)
        {
            try
            {
                Directory.Delete(_ownDirectory, recursive: true);
            }
            catch (IOException)
            {
                // a snapshot still mounted by a dying shim; the temp dir is cleaned by the OS later
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
