using System.Diagnostics;
using ZstdContainers.Destinations;
using ZstdContainers.Processes;

namespace ZstdContainers.Tests.Destinations;

/// <summary>The real-process runner, against /bin/sh and cat (present wherever the images run).</summary>
[Trait("Category", "Integration")]
public sealed class ProcessCommandRunnerTests
{
    private static readonly ProcessCommandRunner Runner = ProcessCommandRunner.Instance;

    private static CommandRequest Sh(string script) => new("/bin/sh", ["-c", script]);

    [Fact]
    public async Task Stdin_is_streamed_while_stdout_is_drained_so_large_data_flows_both_ways()
    {
        const int size = 16 << 20; // far more than a pipe buffer in each direction
        var request = new CommandRequest("cat", [])
        {
            StandardInput = async (stdin, ct) =>
            {
                var chunk = new byte[64 << 10];
                Array.Fill(chunk, (byte)'z');
                for (var written = 0; written < size; written += chunk.Length)
                {
                    await stdin.WriteAsync(chunk, ct);
                }
            },
        };

        var result = await Runner.RunAsync(request, CancellationToken.None);

        Assert.True(result.Succeeded, result.StandardError);
        Assert.Equal(size, result.StandardOutput.Length);
    }

    [Fact]
    public async Task Exit_code_stdout_and_stderr_are_captured()
    {
        var result = await Runner.RunAsync(Sh("echo out; echo err >&2; exit 7"), CancellationToken.None);

        Assert.True(result.Started);
        Assert.Equal(7, result.ExitCode);
        Assert.Equal("out\n", result.StandardOutput);
        Assert.Equal("err\n", result.StandardError);
        Assert.False(result.Succeeded);
    }

    [Fact]
    public async Task A_program_that_is_not_installed_is_reported_as_not_started()
    {
        var result = await Runner.RunAsync(new CommandRequest("zc-no-such-program-" + Guid.NewGuid().ToString("N"), []), CancellationToken.None);

        Assert.False(result.Started);
        Assert.False(result.Succeeded);
        Assert.Contains("could not be started", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_environment_is_inherited_and_overridden()
    {
        var request = Sh("echo \"$ZC_RUNNER_SET|${ZC_RUNNER_REMOVED-unset}|${PATH:+path}\"") with
        {
            Environment = new Dictionary<string, string?> { ["ZC_RUNNER_SET"] = "vfs", ["ZC_RUNNER_REMOVED"] = null },
        };
        Environment.SetEnvironmentVariable("ZC_RUNNER_REMOVED", "inherited");
        try
        {
            var result = await Runner.RunAsync(request, CancellationToken.None);

            Assert.Equal("vfs|unset|path\n", result.StandardOutput);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ZC_RUNNER_REMOVED", null);
        }
    }

    [Fact]
    public async Task A_process_that_exits_without_reading_stdin_gives_its_exit_code_and_the_write_failure()
    {
        var request = Sh("echo refused >&2; exit 3") with
        {
            StandardInput = async (stdin, ct) =>
            {
                var chunk = new byte[1 << 20];
                for (var i = 0; i < 64; i++)
                {
                    await stdin.WriteAsync(chunk, ct);
                }
            },
        };

        var result = await Runner.RunAsync(request, CancellationToken.None);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("refused\n", result.StandardError);
        Assert.NotNull(result.StandardInputError);
    }

    [Fact]
    public async Task A_failing_stdin_writer_kills_the_process_and_its_exception_propagates()
    {
        var started = Stopwatch.StartNew();
        var request = new CommandRequest("sleep", ["30"])
        {
            StandardInput = (_, _) => throw new ZstdContainersException(ErrorCodes.ArchiveBlobMismatch, "damaged layer"),
        };

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => Runner.RunAsync(request, CancellationToken.None));

        Assert.Equal(ErrorCodes.ArchiveBlobMismatch, error.Code);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}: the child was not killed");
    }

    [Fact]
    public async Task Cancellation_kills_the_child_process()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), "zc-runner-" + Guid.NewGuid().ToString("N"));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var started = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => Runner.RunAsync(Sh($"echo $$ > {pidFile}; exec sleep 60"), cts.Token));

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");
        var pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        File.Delete(pidFile);
        Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(" Z ", StringComparison.Ordinal),
            $"process {pid} is still running");
    }

    [Fact]
    public async Task Cancellation_while_stdin_is_blocked_on_a_full_pipe_is_reported_as_cancellation()
    {
        // sleep never reads, so the first large write blocks on the full pipe; cancelling kills the
        // child, which breaks the pipe under the writer: that must surface as a cancellation.
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var started = Stopwatch.StartNew();
        var request = new CommandRequest("sleep", ["60"])
        {
            StandardInput = async (stdin, ct) =>
            {
                var chunk = new byte[1 << 20];
                while (true)
                {
                    await stdin.WriteAsync(chunk, ct);
                }
            },
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Runner.RunAsync(request, cts.Token));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");
    }
}
