using System.Formats.Tar;
using System.Text.Json;
using ZstdContainers.Destinations;
using ZstdContainers.Processes;
using ZstdContainers.Oci;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Destinations;

/// <summary>A scripted docker/podman: answers by command line, records every request, and reads stdin like `load` does.</summary>
internal sealed class FakeCommandRunner : ICommandRunner
{
    private readonly Dictionary<string, Func<CommandRequest, CancellationToken, Task<CommandResult>>> _answers = new(StringComparer.Ordinal);

    public List<CommandRequest> Requests { get; } = [];

    /// <summary>The bytes each request wrote to stdin, by command line.</summary>
    public Dictionary<string, byte[]> StandardInputs { get; } = new(StringComparer.Ordinal);

    public FakeCommandRunner On(string commandLine, CommandResult result) =>
        On(commandLine, (_, _) => Task.FromResult(result));

    public FakeCommandRunner On(string commandLine, Func<CommandRequest, CancellationToken, Task<CommandResult>> answer)
    {
        _answers[commandLine] = answer;
        return this;
    }

    public static CommandResult Ok(string stdout = "") => new() { Started = true, ExitCode = 0, StandardOutput = stdout };

    public static CommandResult Fail(int exitCode, string stderr) => new() { Started = true, ExitCode = exitCode, StandardError = stderr };

    public static CommandResult Missing(string name) => CommandResult.NotStarted($"'{name}' could not be started: No such file or directory");

    public async Task<CommandResult> RunAsync(CommandRequest request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        var commandLine = string.Join(' ', new[] { request.FileName }.Concat(request.Arguments));
        if (request.StandardInput is { } write)
        {
            using var stdin = new MemoryStream();
            await write(stdin, cancellationToken);
            StandardInputs[commandLine] = stdin.ToArray();
        }
        if (_answers.TryGetValue(commandLine, out var answer))
        {
            return await answer(request, cancellationToken);
        }
        // Unknown programs behave as if not installed.
        return Missing(request.FileName);
    }
}

public sealed class LocalDaemonLoaderTests
{
    private const string DockerProbe = "docker version --format {{.Server.Version}}";
    private const string PodmanProbe = "podman version --format {{.Client.Version}}";

    private static readonly BuiltImage Image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app layer")]);

    private static ImageSet Content(params string[] tags) => TestImages.Single(Image, "zc/app", tags);

    private static string CommandLine(CommandRequest r) => string.Join(' ', new[] { r.FileName }.Concat(r.Arguments));

    private static List<string> TarNames(byte[] archive)
    {
        using var reader = new TarReader(new MemoryStream(archive));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } e)
        {
            names.Add(e.Name);
        }
        return names;
    }

    private static byte[] TarFile(byte[] archive, string name)
    {
        using var reader = new TarReader(new MemoryStream(archive));
        while (reader.GetNextEntry(copyData: true) is { } e)
        {
            if (e.Name == name)
            {
                using var ms = new MemoryStream();
                e.DataStream!.CopyTo(ms);
                return ms.ToArray();
            }
        }
        throw new InvalidOperationException($"{name} is not in the archive");
    }

    [Fact]
    public async Task Auto_detect_prefers_a_docker_whose_daemon_answers_and_streams_the_archive_into_docker_load()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok("28.2.2\n"))
            .On("docker load", FakeCommandRunner.Ok("Loaded image: zc/app:1.0\n"));

        var result = await new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Docker, result.Runtime.Kind);
        Assert.Equal("28.2.2", result.Runtime.Version);
        Assert.Equal(["zc/app:1.0"], result.ImageNames);
        Assert.Equal([DockerProbe, "docker load"], runner.Requests.Select(CommandLine));
        var archive = runner.StandardInputs["docker load"];
        Assert.Contains("manifest.json", TarNames(archive));
        var index = JsonDocument.Parse(TarFile(archive, "index.json")).RootElement;
        // Docker's containerd image store needs the qualified name; its classic store reads manifest.json.
        Assert.Equal("docker.io/zc/app:1.0", index.GetProperty("manifests")[0].GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());
        var manifest = JsonDocument.Parse(TarFile(archive, "manifest.json")).RootElement;
        Assert.Equal("zc/app:1.0", manifest[0].GetProperty("RepoTags")[0].GetString());
    }

    [Fact]
    public async Task Auto_detect_falls_back_to_podman_when_docker_is_not_on_PATH()
    {
        var runner = new FakeCommandRunner()
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1\n"))
            .On("podman load", FakeCommandRunner.Ok("Loaded image: localhost/zc/app:1.0\n"));

        var result = await new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Podman, result.Runtime.Kind);
        Assert.Equal([DockerProbe, PodmanProbe, "podman load"], runner.Requests.Select(CommandLine));
        // podman names it localhost/zc/app:1.0 from the short name, as it does from manifest.json.
        var index = JsonDocument.Parse(TarFile(runner.StandardInputs["podman load"], "index.json")).RootElement;
        Assert.Equal("zc/app:1.0", index.GetProperty("manifests")[0].GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());
    }

    [Fact]
    public async Task Auto_detect_falls_back_to_podman_when_the_docker_daemon_does_not_answer()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Fail(1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"))
            .On(PodmanProbe, FakeCommandRunner.Ok("5.4.0"))
            .On("podman load", FakeCommandRunner.Ok());

        var result = await new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Podman, result.Runtime.Kind);
    }

    [Fact]
    public async Task Nothing_available_is_ZSTDC4001_saying_what_was_tried_and_what_to_do_instead()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Fail(1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."));

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonUnavailable, error.Code);
        Assert.Contains("docker", error.Message, StringComparison.Ordinal);
        Assert.Contains("Cannot connect to the Docker daemon", error.Message, StringComparison.Ordinal);
        Assert.Contains("podman", error.Message, StringComparison.Ordinal);
        Assert.Contains("not found on PATH", error.Message, StringComparison.Ordinal);
        Assert.Contains("ContainerRegistry", PropertyNames.Render(error.Message), StringComparison.Ordinal);
        Assert.Contains("ContainerArchiveOutputPath", PropertyNames.Render(error.Message), StringComparison.Ordinal);
        Assert.DoesNotContain(runner.Requests, r => r.Arguments[0] == "load");
    }

    [Fact]
    public async Task LocalRegistry_Podman_never_asks_docker()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok("28.2.2"))
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"))
            .On("podman load", FakeCommandRunner.Ok());

        var result = await new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), LocalRuntimeKind.Podman, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Podman, result.Runtime.Kind);
        Assert.Equal([PodmanProbe, "podman load"], runner.Requests.Select(CommandLine));
    }

    [Fact]
    public async Task LocalRegistry_Docker_without_a_daemon_fails_without_trying_podman()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Fail(1, "Cannot connect to the Docker daemon"))
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"));

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), LocalRuntimeKind.Docker, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonUnavailable, error.Code);
        Assert.Contains("LocalRegistry is 'Docker'", PropertyNames.Render(error.Message), StringComparison.Ordinal);
        Assert.Equal([DockerProbe], runner.Requests.Select(CommandLine));
    }

    [Fact]
    public async Task A_failing_load_is_ZSTDC4002_with_the_tools_stderr_trimmed()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok("28.2.2"))
            .On("docker load", FakeCommandRunner.Fail(1, "\n  Error response from daemon: no space left on device  \n\n"));

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), LocalRuntimeKind.Docker, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonLoadFailed, error.Code);
        Assert.Contains("\"docker load\" failed with exit code 1: Error response from daemon: no space left on device. The image", error.Message, StringComparison.Ordinal);
        Assert.Contains("ContainerArchiveOutputPath", PropertyNames.Render(error.Message), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tool_that_stops_reading_the_archive_but_exits_zero_is_still_a_failure()
    {
        var runner = new FakeCommandRunner()
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"))
            .On("podman load", new CommandResult { Started = true, ExitCode = 0, StandardInputError = new IOException("Broken pipe") });

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), LocalRuntimeKind.Podman, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonLoadFailed, error.Code);
        Assert.Contains("stopped reading", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("20.10.24+dfsg1")]
    [InlineData("22.06.0-beta.0")]
    public async Task A_Docker_Engine_older_than_23_is_refused_before_loading_zstd_layers(string version)
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok(version))
            .On("docker load", FakeCommandRunner.Ok());

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonTooOld, error.Code);
        Assert.Contains(version, error.Message, StringComparison.Ordinal);
        Assert.Contains("23.0", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(runner.Requests, r => r.Arguments[0] == "load");
    }

    [Theory]
    [InlineData("23.0.0")]
    [InlineData("28.2.2")]
    [InlineData("4.9.3")] // podman answering as docker: not a Docker Engine version, not judged
    [InlineData("dev")]
    public async Task Docker_Engine_23_and_versions_we_cannot_judge_load(string version)
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok(version))
            .On("docker load", FakeCommandRunner.Ok());

        var result = await new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Docker, result.Runtime.Kind);
    }

    [Fact]
    public async Task An_old_Docker_Engine_still_loads_gzip_only_images()
    {
        var gzipImage = TestImages.Image(TestImages.Amd64, [TestImages.Layer("gz"u8.ToArray(), MediaTypes.OciLayerGzip)]);
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok("20.10.24"))
            .On("docker load", FakeCommandRunner.Ok());

        var result = await new LocalDaemonLoader(runner).LoadAsync(TestImages.Single(gzipImage), null, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Docker, result.Runtime.Kind);
    }

    [Fact]
    public async Task The_environment_is_passed_to_every_command()
    {
        var environment = new Dictionary<string, string?> { ["STORAGE_DRIVER"] = "vfs" };
        var runner = new FakeCommandRunner()
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"))
            .On("podman load", FakeCommandRunner.Ok());

        await new LocalDaemonLoader(runner, environment: environment).LoadAsync(Content("1.0"), LocalRuntimeKind.Podman, CancellationToken.None);

        Assert.All(runner.Requests, r => Assert.Equal("vfs", r.Environment!["STORAGE_DRIVER"]));
    }

    [Fact]
    public async Task A_probe_that_hangs_counts_as_unavailable_after_the_timeout()
    {
        var runner = new FakeCommandRunner()
            .On(DockerProbe, async (_, ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return FakeCommandRunner.Ok("never");
            })
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"))
            .On("podman load", FakeCommandRunner.Ok());
        var loader = new LocalDaemonLoader(runner) { ProbeTimeout = TimeSpan.FromMilliseconds(100) };

        var runtime = await loader.FindRuntimeAsync(null, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Podman, runtime.Kind);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_mistaken_for_an_unavailable_tool()
    {
        using var cts = new CancellationTokenSource();
        var runner = new FakeCommandRunner()
            .On(DockerProbe, async (_, ct) =>
            {
                await cts.CancelAsync();
                await Task.Delay(Timeout.Infinite, ct);
                return FakeCommandRunner.Ok("never");
            });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => new LocalDaemonLoader(runner).LoadAsync(Content("1.0"), null, cts.Token));
        Assert.Single(runner.Requests);
    }

    [Fact]
    public async Task A_multi_platform_image_goes_to_podman_under_its_first_tag_and_gets_the_others_by_podman_tag()
    {
        var amd64 = TestImages.Image(TestImages.Amd64, [TestImages.Layer("amd64")]);
        var arm64 = TestImages.Image(TestImages.Arm64, [TestImages.Layer("arm64")]);
        var content = new ImageSet
        {
            Images = [amd64, arm64],
            Index = TestImages.IndexOf(amd64, arm64),
            Repository = "zc/multi",
            Tags = ["1.0", "latest", "stable"],
        };
        var runner = new FakeCommandRunner()
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"))
            .On("podman load", FakeCommandRunner.Ok())
            .On("podman tag zc/multi:1.0 zc/multi:latest", FakeCommandRunner.Ok())
            .On("podman tag zc/multi:1.0 zc/multi:stable", FakeCommandRunner.Ok());

        var result = await new LocalDaemonLoader(runner).LoadAsync(content, LocalRuntimeKind.Podman, CancellationToken.None);

        Assert.Equal(
            [PodmanProbe, "podman load", "podman tag zc/multi:1.0 zc/multi:latest", "podman tag zc/multi:1.0 zc/multi:stable"],
            runner.Requests.Select(CommandLine));
        var index = JsonDocument.Parse(TarFile(runner.StandardInputs["podman load"], "index.json")).RootElement;
        var only = Assert.Single(index.GetProperty("manifests").EnumerateArray());
        Assert.Equal("zc/multi:1.0", only.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());
        Assert.Equal(["zc/multi:1.0", "zc/multi:latest", "zc/multi:stable"], result.ImageNames);
    }

    [Fact]
    public async Task A_multi_platform_image_goes_to_docker_in_one_load_with_every_tag()
    {
        var amd64 = TestImages.Image(TestImages.Amd64, [TestImages.Layer("amd64")]);
        var arm64 = TestImages.Image(TestImages.Arm64, [TestImages.Layer("arm64")]);
        var content = new ImageSet
        {
            Images = [amd64, arm64],
            Index = TestImages.IndexOf(amd64, arm64),
            Repository = "zc/multi",
            Tags = ["1.0", "latest"],
        };
        var runner = new FakeCommandRunner()
            .On(DockerProbe, FakeCommandRunner.Ok("28.2.2"))
            .On("docker load", FakeCommandRunner.Ok());

        await new LocalDaemonLoader(runner).LoadAsync(content, LocalRuntimeKind.Docker, CancellationToken.None);

        var index = JsonDocument.Parse(TarFile(runner.StandardInputs["docker load"], "index.json")).RootElement;
        Assert.Equal(
            ["docker.io/zc/multi:1.0", "docker.io/zc/multi:latest"],
            index.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString()));
    }

    [Fact]
    public async Task A_damaged_layer_stops_the_load_with_ZSTDC4003()
    {
        var good = TestImages.Layer("the real layer");
        var damaged = TestImages.Image(TestImages.Amd64, [good with { Source = new BytesBlobSource("the fake layer"u8.ToArray()) }]);
        var runner = new FakeCommandRunner()
            .On(PodmanProbe, FakeCommandRunner.Ok("4.3.1"))
            .On("podman load", FakeCommandRunner.Ok());

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => new LocalDaemonLoader(runner).LoadAsync(TestImages.Single(damaged), LocalRuntimeKind.Podman, CancellationToken.None));

        Assert.Equal(ErrorCodes.ArchiveBlobMismatch, error.Code);
    }

    [Fact]
    public void Engine_versions_below_17_are_not_judged()
    {
        Assert.False(LocalDaemonLoader.TryParseEngineVersion("4.3.1", out _));
        Assert.False(LocalDaemonLoader.TryParseEngineVersion("1.13.1", out _));
        Assert.True(LocalDaemonLoader.TryParseEngineVersion("20.10.24+dfsg1", out var v));
        Assert.Equal(new Version(20, 10), v);
        Assert.True(LocalDaemonLoader.TryParseEngineVersion("23.0.0-rc.1", out v));
        Assert.Equal(new Version(23, 0), v);
    }
}
