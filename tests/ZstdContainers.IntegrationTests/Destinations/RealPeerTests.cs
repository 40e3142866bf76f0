using System.Text.Json;
using ZstdContainers.Destinations;
using ZstdContainers.Processes;
using ZstdContainers.Oci;

using ZstdContainers.Tests.Destinations;

namespace ZstdContainers.IntegrationTests.Destinations;

/// <summary>
/// The archive and the loader against the real tools: containerd imports and runs the zstd image,
/// podman loads it under repository:tag, docker too when a daemon runs. Each test is skipped (with
/// the reason) only when its tool is missing; a tool that is there but disagrees fails the test.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RealPeerTests : IAsyncLifetime
{
    private const string Message = "hello-zstd";
    private const string Repository = "zc-destinations-test/busybox";

    private readonly string _work = Directory.CreateTempSubdirectory("zc-peer-").FullName;
    private readonly string _tag = "t" + Guid.NewGuid().ToString("N")[..10];
    private BuiltImage? _image;

    public async Task InitializeAsync()
    {
        if (TestImages.FindStaticBusybox() is not null)
        {
            _image = await TestImages.BusyboxImageAsync(_work, Message, CancellationToken.None);
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    private BuiltImage BusyboxImage => _image ?? throw new InvalidOperationException("no static busybox");

    private async Task<string> WriteArchiveAsync(ImageSet content, string name)
    {
        var path = Path.Combine(_work, name);
        await using (var file = File.Create(path))
        {
            await OciArchiveWriter.WriteAsync(file, content, CancellationToken.None);
        }
        return path;
    }

    /// <summary>The busybox image for this machine plus a second platform, tied by an index.</summary>
    private ImageSet MultiPlatform(params string[] tags)
    {
        var other = TestImages.Image(
            TestImages.Host == TestImages.Amd64 ? TestImages.Arm64 : TestImages.Amd64,
            [TestImages.Layer("a layer for the other platform")]);
        return new ImageSet
        {
            Images = [BusyboxImage, other],
            Index = TestImages.IndexOf(BusyboxImage, other),
            Repository = Repository,
            Tags = tags,
        };
    }

    // ------------------------------------------------------------------ containerd

    [ContainerdFact]
    public async Task Ctr_imports_the_archive_under_repository_and_tag_and_runs_the_zstd_image()
    {
        await using var containerd = await ContainerdPeer.StartAsync();
        var archive = await WriteArchiveAsync(TestImages.Single(BusyboxImage, Repository, _tag, "latest"), "single.tar");
        var names = new[] { $"{Repository}:{_tag}", $"{Repository}:latest" };
        try
        {
            await containerd.CtrAsync("images", "import", "--snapshotter", containerd.Snapshotter, archive);

            var listed = (await containerd.CtrAsync("images", "ls", "-q")).Split('\n', StringSplitOptions.TrimEntries);
            Assert.Contains(names[0], listed);
            Assert.Contains(names[1], listed);

            var output = await containerd.CtrAsync("run", "--rm", "--snapshotter", containerd.Snapshotter, names[0], "zc-dest-" + _tag);
            Assert.Equal(Message, output.Trim());
        }
        finally
        {
            await RemoveQuietlyAsync(containerd, names);
        }
    }

    [ContainerdFact]
    public async Task Ctr_imports_a_multi_platform_archive_and_runs_this_machines_image()
    {
        await using var containerd = await ContainerdPeer.StartAsync();
        var archive = await WriteArchiveAsync(MultiPlatform(_tag, "multi-" + _tag), "multi.tar");
        var names = new[] { $"{Repository}:{_tag}", $"{Repository}:multi-{_tag}" };
        try
        {
            await containerd.CtrAsync("images", "import", "--snapshotter", containerd.Snapshotter, archive);

            var listed = (await containerd.CtrAsync("images", "ls", "-q")).Split('\n', StringSplitOptions.TrimEntries);
            Assert.Contains(names[0], listed);
            Assert.Contains(names[1], listed);

            var output = await containerd.CtrAsync("run", "--rm", "--snapshotter", containerd.Snapshotter, names[1], "zc-dest-m-" + _tag);
            Assert.Equal(Message, output.Trim());
        }
        finally
        {
            await RemoveQuietlyAsync(containerd, names);
        }
    }

    private static async Task RemoveQuietlyAsync(ContainerdPeer containerd, IEnumerable<string> names)
    {
        var request = new CommandRequest("ctr", new[] { "-a", containerd.Address, "-n", containerd.Namespace, "images", "rm" }.Concat(names).ToList());
        await ProcessCommandRunner.Instance.RunAsync(request, CancellationToken.None);
    }

    // ------------------------------------------------------------------ podman

    /// <summary>A private podman store (vfs, no events) so the tests touch nothing of the machine's.</summary>
    private string[] PodmanStoreArguments()
    {
        var store = Path.Combine(_work, "podman");
        Directory.CreateDirectory(Path.Combine(store, "tmp"));
        return ["--root", Path.Combine(store, "root"), "--runroot", Path.Combine(store, "run"), "--tmpdir", Path.Combine(store, "tmp"),
                "--storage-driver", "vfs", "--events-backend", "none"];
    }

    /// <summary>The same private store for commands run without flags (as LocalDaemonLoader runs podman).</summary>
    private Dictionary<string, string?> PodmanStoreEnvironment()
    {
        var store = Path.Combine(_work, "podman-env");
        Directory.CreateDirectory(store);
        var config = Path.Combine(store, "storage.conf");
        File.WriteAllText(config, $"""
            [storage]
            driver = "vfs"
            graphroot = "{store}/root"
            runroot = "{store}/run"
            """);
        return new Dictionary<string, string?>
        {
            ["STORAGE_DRIVER"] = "vfs",
            ["CONTAINERS_STORAGE_CONF"] = config,
            ["TMPDIR"] = Path.Combine(_work),
        };
    }

    private static async Task<HashSet<string>> PodmanImageNamesAsync(IEnumerable<string> globalArguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var output = await PeerTools.RunAsync("podman", globalArguments.Concat(["images", "--format", "{{.Repository}}:{{.Tag}}"]), environment);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
    }

    [PodmanFact]
    public async Task Podman_load_names_the_image_repository_and_tag_with_one_tag_and_with_several()
    {
        var store = PodmanStoreArguments();
        // One tag: podman reads the OCI layout and its io.containerd.image.name annotation.
        var one = await WriteArchiveAsync(TestImages.Single(BusyboxImage, Repository, "one-" + _tag), "one.tar");
        // Several tags: podman 4 falls back to the docker manifest.json and its RepoTags.
        var two = await WriteArchiveAsync(TestImages.Single(BusyboxImage, Repository, _tag, "latest"), "two.tar");

        await PeerTools.RunAsync("podman", store.Concat(["load", "-i", one]));
        await PeerTools.RunAsync("podman", store.Concat(["load", "-i", two]));

        var names = await PodmanImageNamesAsync(store);
        Assert.Contains($"localhost/{Repository}:one-{_tag}", names);
        Assert.Contains($"localhost/{Repository}:{_tag}", names);
        Assert.Contains($"localhost/{Repository}:latest", names);

        var entrypoint = await PeerTools.RunAsync("podman", store.Concat(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", $"{Repository}:{_tag}"]));
        Assert.Equal(["/bin/busybox", "echo", Message], JsonSerializer.Deserialize<string[]>(entrypoint)!);
    }

    [PodmanFact]
    public async Task Podman_loads_a_multi_platform_archive_with_one_tag()
    {
        var store = PodmanStoreArguments();
        var archive = await WriteArchiveAsync(MultiPlatform(_tag), "multi.tar");

        await PeerTools.RunAsync("podman", store.Concat(["load", "-i", archive]));

        Assert.Contains($"localhost/{Repository}:{_tag}", await PodmanImageNamesAsync(store));
        var architecture = await PeerTools.RunAsync("podman", store.Concat(["image", "inspect", "--format", "{{.Architecture}}", $"{Repository}:{_tag}"]));
        Assert.Equal(TestImages.Host.Architecture, architecture.Trim());
    }

    [PodmanFact]
    public async Task LocalDaemonLoader_with_LocalRegistry_Podman_streams_the_image_into_podman_load()
    {
        var environment = PodmanStoreEnvironment();
        var loader = new LocalDaemonLoader(ProcessCommandRunner.Instance, environment: environment);

        var result = await loader.LoadAsync(TestImages.Single(BusyboxImage, Repository, _tag, "latest"), LocalRuntimeKind.Podman, CancellationToken.None);

        Assert.Equal(LocalRuntimeKind.Podman, result.Runtime.Kind);
        var names = await PodmanImageNamesAsync([], environment);
        Assert.Contains($"localhost/{Repository}:{_tag}", names);
        Assert.Contains($"localhost/{Repository}:latest", names);
    }

    [PodmanFact]
    public async Task LocalDaemonLoader_gives_podman_every_tag_of_a_multi_platform_image()
    {
        var environment = PodmanStoreEnvironment();
        var loader = new LocalDaemonLoader(ProcessCommandRunner.Instance, environment: environment);

        await loader.LoadAsync(MultiPlatform(_tag, "latest", "stable"), LocalRuntimeKind.Podman, CancellationToken.None);

        var names = await PodmanImageNamesAsync([], environment);
        Assert.Contains($"localhost/{Repository}:{_tag}", names);
        Assert.Contains($"localhost/{Repository}:latest", names);
        Assert.Contains($"localhost/{Repository}:stable", names);
    }

    [PodmanFact]
    public async Task LocalDaemonLoader_reports_a_podman_load_failure_with_podmans_stderr()
    {
        // A layer whose bytes match its digest but are no zstd frame: the archive is well formed,
        // podman's own layer extraction fails. (A broken store would already fail the probe.)
        var environment = PodmanStoreEnvironment();
        var broken = TestImages.Image(TestImages.Host, [TestImages.Layer("these bytes are not a zstd frame")]);
        var loader = new LocalDaemonLoader(ProcessCommandRunner.Instance, environment: environment);

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => loader.LoadAsync(TestImages.Single(broken, Repository, _tag), LocalRuntimeKind.Podman, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonLoadFailed, error.Code);
        Assert.Contains("\"podman load\" failed with exit code", error.Message, StringComparison.Ordinal);
        Assert.Contains("Error:", error.Message, StringComparison.Ordinal); // podman's own words
        Assert.Contains(UserSetting.ArchiveOutputPath, error.Settings);
        Assert.DoesNotContain($"localhost/{Repository}:{_tag}", await PodmanImageNamesAsync([], environment));
    }

    // ------------------------------------------------------------------ docker

    [DockerWithoutDaemonFact]
    public async Task LocalRegistry_Docker_without_a_running_daemon_is_ZSTDC4001_with_dockers_own_words()
    {
        var loader = new LocalDaemonLoader(ProcessCommandRunner.Instance);

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => loader.FindRuntimeAsync(LocalRuntimeKind.Docker, CancellationToken.None));

        Assert.Equal(ErrorCodes.LocalDaemonUnavailable, error.Code);
        Assert.Contains("daemon", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(UserSetting.ArchiveOutputPath, error.Settings);
    }

    [DockerDaemonFact]
    public async Task LocalDaemonLoader_loads_the_zstd_image_into_docker_and_docker_runs_it()
    {
        var loader = new LocalDaemonLoader(ProcessCommandRunner.Instance);
        var name = $"{Repository}:{_tag}";
        try
        {
            var result = await loader.LoadAsync(TestImages.Single(BusyboxImage, Repository, _tag), LocalRuntimeKind.Docker, CancellationToken.None);

            Assert.Equal(LocalRuntimeKind.Docker, result.Runtime.Kind);
            var output = await PeerTools.RunAsync("docker", ["run", "--rm", name]);
            Assert.Equal(Message, output.Trim());
        }
        finally
        {
            await ProcessCommandRunner.Instance.RunAsync(new CommandRequest("docker", ["rmi", name]), CancellationToken.None);
        }
    }

    // ------------------------------------------------------------------ detection

    [Fact]
    public async Task Auto_detection_picks_docker_when_its_daemon_answers_and_podman_otherwise()
    {
        var loader = new LocalDaemonLoader(ProcessCommandRunner.Instance);
        var podman = PeerTools.FindOnPath("podman") is not null;

        if (!PeerTools.DockerDaemonRunning && !podman)
        {
            var error = await Assert.ThrowsAsync<ZstdContainersException>(() => loader.FindRuntimeAsync(null, CancellationToken.None));
            Assert.Equal(ErrorCodes.LocalDaemonUnavailable, error.Code);
            return;
        }

        var runtime = await loader.FindRuntimeAsync(null, CancellationToken.None);

        Assert.Equal(PeerTools.DockerDaemonRunning ? LocalRuntimeKind.Docker : LocalRuntimeKind.Podman, runtime.Kind);
        Assert.False(string.IsNullOrEmpty(runtime.Version));
    }
}
