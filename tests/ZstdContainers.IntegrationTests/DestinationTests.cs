using System.Text.Json.Nodes;

namespace ZstdContainers.IntegrationTests;

/// <summary>Issue 4: archive, local daemon (podman) and multi-RID image index, all zstd.</summary>
[Collection(RigCollection.Name)]
public sealed class DestinationTests(PackageFixture package)
{
    [Fact]
    public async Task Archive_is_an_oci_layout_that_containerd_imports_and_runs_and_podman_loads()
    {
        var project = await TestProject.CreateAsync(package, "archive");
        var folder = Path.Combine(package.WorkRoot, "archives") + "/";
        (await project.PublishAsync("it/archive", "v1", ["-p:ContainerLayerCompression=zstd", "-p:ContainerArchiveOutputPath=" + folder], useRegistry: false))
            .EnsureSuccess("publish to archive");

        // named as the SDK names archives in a folder: <repository>.tar.gz (a plain tar)
        var archive = Path.Combine(folder, "it", "archive.tar.gz");
        Assert.True(File.Exists(archive), archive + " missing");

        var reference = "it/archive:v1";
        await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "rm", reference]);
        (await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "import", "--snapshotter", Rig.Snapshotter, archive]))
            .EnsureSuccess("ctr images import");
        var run = await Containerd.RunAsync(reference);
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);

        using var podman = new PodmanStore(package.WorkRoot, "podman-archive");
        (await podman.RunAsync("load", "-i", archive)).EnsureSuccess("podman load");
        var images = await podman.RunAsync("images", "--format", "{{.Repository}}:{{.Tag}}");
        Assert.Contains("it/archive:v1", images.Output);
    }

    [Fact]
    public async Task Without_a_registry_the_image_is_loaded_into_podman()
    {
        var project = await TestProject.CreateAsync(package, "daemon");
        using var podman = new PodmanStore(package.WorkRoot, "podman-daemon");
        var result = await project.PublishAsync("it/daemon", "v1", ["-p:ContainerLayerCompression=zstd", "-p:LocalRegistry=Podman"],
            environment: podman.Environment, useRegistry: false);
        result.EnsureSuccess("publish to podman");
        Assert.Contains("Loaded it/daemon:v1", result.Output);

        var inspect = await podman.RunAsync("image", "inspect", "it/daemon:v1", "--format", "{{.Config.WorkingDir}} {{json .Config.Entrypoint}}");
        inspect.EnsureSuccess("podman image inspect");
        Assert.Contains("/app/", inspect.Output);
        Assert.Contains("app.dll", inspect.Output);
    }

    [Fact]
    public async Task Several_rids_give_an_oci_index_of_zstd_images_and_ctr_picks_arm64()
    {
        var project = await TestProject.CreateAsync(package, "multi", "<RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers>");
        var result = await project.PublishAsync("it/multi", "v1", ["-p:ContainerLayerCompression=zstd"]);
        result.EnsureSuccess("multi-RID publish");

        var (index, mediaType, _) = await RegistryProbe.ManifestAsync("it/multi", "v1");
        Assert.Equal("application/vnd.oci.image.index.v1+json", mediaType);
        var entries = index["manifests"]!.AsArray().Cast<JsonObject>().ToList();
        Assert.Equal(["amd64", "arm64"], entries.Select(e => e["platform"]!["architecture"]!.GetValue<string>()).Order());
        foreach (var entry in entries)
        {
            var (manifest, _, digest) = await RegistryProbe.ManifestAsync("it/multi", entry["digest"]!.GetValue<string>());
            Assert.Equal(entry["digest"]!.GetValue<string>(), digest);
            Assert.All(RegistryProbe.Layers(manifest), l => Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", l["mediaType"]!.GetValue<string>()));
            var config = await RegistryProbe.ConfigAsync("it/multi", manifest);
            Assert.Equal(entry["platform"]!["architecture"]!.GetValue<string>(), config["architecture"]!.GetValue<string>());
        }
        // the per-RID images went up first, under <tag>-<rid>, as the SDK names them
        await RegistryProbe.ManifestAsync("it/multi", "v1-linux-x64");
        await RegistryProbe.ManifestAsync("it/multi", "v1-linux-arm64");

        var arm = entries.Single(e => e["platform"]!["architecture"]!.GetValue<string>() == "arm64")["digest"]!.GetValue<string>();
        var pull = await Containerd.PullAsync($"{Rig.Registry}/it/multi:v1", "linux/arm64");
        pull.EnsureSuccess("ctr pull --platform linux/arm64");
        Assert.Contains(arm, pull.Output);
        (await Containerd.PullAsync($"{Rig.Registry}/it/multi:v1")).EnsureSuccess("ctr pull of this machine's platform");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/multi:v1");
        run.EnsureSuccess("ctr run of the amd64 image");
        Assert.Contains(TestProject.Greeting, run.Output);
    }

    [Fact]
    public async Task Several_rids_into_an_archive_give_an_index_that_containerd_imports_and_runs()
    {
        var project = await TestProject.CreateAsync(package, "multi-archive", "<RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers>");
        var archive = Path.Combine(package.WorkRoot, "multi.tar");
        (await project.PublishAsync("it/multi-archive", "v1", ["-p:ContainerLayerCompression=zstd", "-p:ContainerArchiveOutputPath=" + archive], useRegistry: false))
            .EnsureSuccess("multi-RID publish to archive");

        var reference = "it/multi-archive:v1";
        await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "rm", reference]);
        (await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "import", "--all-platforms", "--snapshotter", Rig.Snapshotter, archive]))
            .EnsureSuccess("ctr images import");
        var list = await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "ls"]);
        Assert.Contains("linux/amd64,linux/arm64", list.Output.Replace("/v8", ""));
        var run = await Containerd.RunAsync(reference);
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);
    }

    [Fact]
    public async Task A_rid_the_base_image_lacks_is_a_coded_error_listing_its_platforms()
    {
        var project = await TestProject.CreateAsync(package, "no-platform");
        var result = await project.PublishAsync("it/no-platform", "v1", ["-p:ContainerLayerCompression=zstd", "-p:ContainerRuntimeIdentifier=linux-s390x"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error ZSTDC2002", result.Output);
        Assert.Contains("linux/amd64", result.Output);
        Assert.Contains("linux/arm64", result.Output);
        Assert.DoesNotContain("   at ", result.Output);
    }

    [Fact]
    public async Task An_archive_path_that_cannot_be_written_fails_before_any_layer_work()
    {
        var project = await TestProject.CreateAsync(package, "bad-archive");
        var blocker = Path.Combine(package.WorkRoot, "a-file-not-a-folder");
        await File.WriteAllTextAsync(blocker, "x");
        var result = await project.PublishAsync("it/bad-archive", "v1",
            ["-p:ContainerLayerCompression=zstd", "-p:ContainerArchiveOutputPath=" + Path.Combine(blocker, "out.tar")], useRegistry: false);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error ZSTDC1009", result.Output);
        Assert.Contains("ContainerArchiveOutputPath", result.Output);
        Assert.DoesNotContain("base layer", result.Output);
        Assert.DoesNotContain("   at ", result.Output);
    }
}

/// <summary>A private podman store (vfs) for one test, through CONTAINERS_STORAGE_CONF.</summary>
public sealed class PodmanStore : IDisposable
{
    private readonly string _root;

    /// <param name="partialPulls">The overlay driver with zstd:chunked partial pulls on (containers/storage's pull_options).</param>
    public PodmanStore(string workRoot, string name, bool partialPulls = false)
    {
        _root = Path.Combine(workRoot, name);
        Directory.CreateDirectory(_root);
        var conf = Path.Combine(_root, "storage.conf");
        File.WriteAllText(conf, $"""
            [storage]
            driver = "{(partialPulls ? "overlay" : "vfs")}"
            runroot = "{_root}/run"
            graphroot = "{_root}/graph"
            """ + (partialPulls ? """

                [storage.options]
                pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}
                """ : ""));
        Environment = new Dictionary<string, string?> { ["CONTAINERS_STORAGE_CONF"] = conf, ["TMPDIR"] = Path.GetTempPath() };
    }

    public IDictionary<string, string?> Environment { get; }

    public Task<CommandResult> RunAsync(params string[] args) =>
        Command.RunAsync("podman", ["--events-backend", "none", .. args], environment: Environment, timeout: TimeSpan.FromMinutes(3));

    public void Dispose()
    {
        // vfs layers are plain folders, but podman may leave read-only bits; let podman remove them.
        RunAsync("system", "reset", "--force").GetAwaiter().GetResult();
    }
}
