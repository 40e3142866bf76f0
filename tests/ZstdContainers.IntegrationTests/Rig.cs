using System.Diagnostics;
using System.Text;

namespace ZstdContainers.IntegrationTests;

/// <summary>The services eng/rig.sh started: a registry and containerd on this machine.</summary>
public static class Rig
{
    public static string Registry => Required("ZC_REGISTRY");

    public static string ContainerdAddress => Required("ZC_CONTAINERD_ADDRESS");

    public static string Snapshotter => Environment.GetEnvironmentVariable("ZC_CONTAINERD_SNAPSHOTTER") is { Length: > 0 } s ? s : "overlayfs";

    public static string BaseImage => Registry + "/dotnet/aspnet:10.0";

    public static string RepoRoot { get; } = FindRepoRoot();

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the integration tests through eng/test.sh, which starts the registry and containerd and exports it.");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZstdContainers.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("ZstdContainers.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>The outcome of an external command.</summary>
public sealed record CommandResult(int ExitCode, string Output)
{
    public CommandResult EnsureSuccess(string what) =>
        ExitCode == 0 ? this : throw new Xunit.Sdk.XunitException($"{what} exited with {ExitCode}:\n{Output}");
}

public static class Command
{
    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> args, string? workingDirectory = null,
        IDictionary<string, string?>? environment = null, TimeSpan? timeout = null, Stream? stdin = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null) { start.Environment.Remove(k); } else { start.Environment[k] = v; }
            }
        }
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var lockObj = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lockObj) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lockObj) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            await stdin.CopyToAsync(process.StandardInput.BaseStream);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish in time:\n{output}");
        }
        process.WaitForExit();
        lock (lockObj)
        {
            return new CommandResult(process.ExitCode, output.ToString());
        }
    }
}
