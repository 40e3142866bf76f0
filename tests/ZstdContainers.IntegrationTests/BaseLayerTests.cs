using System.Text.Json.Nodes;

namespace ZstdContainers.IntegrationTests;

/// <summary>Issue 3: base layers recompressed through the cache, kept, or reused as zstd.</summary>
[Collection(RigCollection.Name)]
public sealed class BaseLayerTests(PackageFixture package)
{
    private const string Zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    private const string OciGzip = "application/vnd.oci.image.layer.v1.tar+gzip";

    [Fact]
    public async Task Keeping_base_layers_gives_a_mixed_image_that_runs()
    {
        var project = await TestProject.CreateAsync(package, "mixed");
        (await project.PublishAsync("it/mixed", "v1", ["-p:ContainerLayerCompression=zstd", "-p:ContainerRecompressBaseLayers=false"]))
            .EnsureSuccess("publish");

        var (manifest, _, _) = await RegistryProbe.ManifestAsync("it/mixed", "v1");
        var (baseManifest, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet", await AmdDigestAsync());
        var types = RegistryProbe.Layers(manifest).Select(l => l["mediaType"]!.GetValue<string>()).ToList();
        Assert.Equal([OciGzip, OciGzip, OciGzip, Zstd], types);
        // the base blobs are the very same bytes
        Assert.Equal(
            RegistryProbe.Layers(baseManifest).Select(l => l["digest"]!.GetValue<string>()),
            RegistryProbe.Layers(manifest).Take(3).Select(l => l["digest"]!.GetValue<string>()));

        (await Containerd.PullAsync($"{Rig.Registry}/it/mixed:v1")).EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/mixed:v1");
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);
    }

    [Theory]
    [InlineData("dotnet/aspnet-zstd:10.0")]          // hardened images ship zstd; the SDK fails on them (CONTAINER2001)
    [InlineData("dotnet/aspnet-uncompressed:10.0")]
    [InlineData("dotnet/runtime:10.0")]              // Docker v2 manifest and media types
    public async Task Zstd_uncompressed_and_docker_v2_base_images_are_accepted_and_run(string baseImage)
    {
        var name = "base-" + baseImage.Split(':')[0].Replace('/', '-');
        var project = await TestProject.CreateAsync(package, name);
        (await project.PublishAsync("it/" + name, "v1", ["-p:ContainerLayerCompression=zstd"], baseImage: Rig.Registry + "/" + baseImage))
            .EnsureSuccess("publish");

        var (manifest, mediaType, _) = await RegistryProbe.ManifestAsync("it/" + name, "v1");
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", mediaType);
        Assert.All(RegistryProbe.Layers(manifest), l => Assert.Equal(Zstd, l["mediaType"]!.GetValue<string>()));
        if (baseImage.Contains("zstd"))
        {
            // zstd base blobs are reused byte for byte
            var (baseManifest, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet-zstd", "10.0");
            Assert.Equal(
                RegistryProbe.Layers(baseManifest).Select(l => l["digest"]!.GetValue<string>()),
                RegistryProbe.Layers(manifest).SkipLast(1).Select(l => l["digest"]!.GetValue<string>()));
        }
        var config = await RegistryProbe.ConfigAsync("it/" + name, manifest);
        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        var layers = RegistryProbe.Layers(manifest).ToList();
        for (var i = 0; i < layers.Count; i++)
        {
            Assert.Equal(diffIds[i], await RegistryProbe.DiffIdAsync("it/" + name, layers[i]));
        }

        (await Containerd.PullAsync($"{Rig.Registry}/it/{name}:v1")).EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/{name}:v1");
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);
    }

    [Fact]
    public async Task The_base_layer_level_is_set_apart_from_the_app_layer_level_and_defaults_to_the_harder_one()
    {
        var project = await TestProject.CreateAsync(package, "levels");
        // Tags of their own, so the registry cache cannot offer blobs of an earlier run at another level.
        var run = Guid.NewGuid().ToString("N")[..8];
        (await project.PublishAsync("it/levels", "base3-" + run, ["-p:ContainerLayerCompression=zstd", "-p:ContainerBaseLayerCompressionLevel=3"]))
            .EnsureSuccess("base level 3");
        (await project.PublishAsync("it/levels", "default-" + run, ["-p:ContainerLayerCompression=zstd"]))
            .EnsureSuccess("default base level");

        var (level3, _, _) = await RegistryProbe.ManifestAsync("it/levels", "base3-" + run);
        var (byDefault, _, _) = await RegistryProbe.ManifestAsync("it/levels", "default-" + run);
        long BaseBytes(JsonObject manifest) => RegistryProbe.Layers(manifest).Take(3).Sum(l => l["size"]!.GetValue<long>());
        Assert.True(BaseBytes(byDefault) < BaseBytes(level3),
            $"base layers at the default level: {BaseBytes(byDefault)} bytes, at level 3: {BaseBytes(level3)} bytes");

        // The base layers hold the same tars (diff_ids), and the app layers, at the same app level, are the same blobs.
        Assert.True(JsonNode.DeepEquals(
            (await RegistryProbe.ConfigAsync("it/levels", level3))["rootfs"],
            (await RegistryProbe.ConfigAsync("it/levels", byDefault))["rootfs"]));
        Assert.Equal(
            RegistryProbe.Layers(level3).Skip(3).Select(l => l["digest"]!.GetValue<string>()),
            RegistryProbe.Layers(byDefault).Skip(3).Select(l => l["digest"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_second_publish_is_a_cache_hit_and_uploads_only_the_changed_app_layer_and_config()
    {
        var cache = Path.Combine(package.WorkRoot, "cache-second-publish");
        var project = await TestProject.CreateAsync(package, "second");
        string[] props = ["-p:ContainerLayerCompression=zstd", "-p:ContainerLayerCacheDirectory=" + cache];

        // A repository of its own per run: on a long-lived rig the registry cache would find an earlier run's layers.
        var repository = "it/second-" + Guid.NewGuid().ToString("N")[..8];
        var cold = await project.PublishAsync(repository, "v1", props);
        cold.EnsureSuccess("cold publish");
        Assert.Equal(3, CountLines(cold.Output, "transcoded to zstd"));

        // change the app, so its layer is new
        await File.AppendAllTextAsync(Path.Combine(project.Directory, "Program.cs"), "\nConsole.WriteLine(\"changed\");\n");
        var warm = await project.PublishAsync(repository, "v2", props);
        warm.EnsureSuccess("warm publish");
        Assert.Equal(3, CountLines(warm.Output, "zstd from cache"));
        Assert.Equal(0, CountLines(warm.Output, "transcoded to zstd"));
        Assert.Contains("uploaded 2 of 5 blobs", warm.Output); // the app layer and the config; the base was there
    }

    [Fact]
    public async Task A_corrupted_cache_entry_is_detected_when_its_bytes_are_uploaded_and_rebuilt_by_the_next_publish()
    {
        var cache = Path.Combine(package.WorkRoot, "cache-corrupt");
        var project = await TestProject.CreateAsync(package, "corrupt-cache");
        string[] props = ["-p:ContainerLayerCompression=zstd", "-p:ContainerLayerCacheDirectory=" + cache];
        // A repository of its own per run: on a long-lived rig the registry cache would find an earlier run's layers.
        var repository = "it/corrupt-cache-" + Guid.NewGuid().ToString("N")[..8];
        (await project.PublishAsync(repository, "v1", props)).EnsureSuccess("first publish");

        var blobs = Directory.GetFiles(Path.Combine(cache, "v1", "blobs", "sha256"));
        Assert.NotEmpty(blobs);
        var victim = blobs.OrderByDescending(f => new FileInfo(f).Length).First();
        await using (var stream = new FileStream(victim, FileMode.Open, FileAccess.Write))
        {
            stream.Seek(1000, SeekOrigin.Begin);
            stream.Write("not zstd"u8);
        }

        // The registry already holds that blob: its bytes are not read, so the damage does not show yet.
        var same = await project.PublishAsync(repository, "v2", props);
        same.EnsureSuccess("publish over a corrupt cache to a registry holding the blob");
        Assert.DoesNotContain("ZSTDC5002", same.Output);
        Assert.Equal(0, CountLines(same.Output, "transcoded to zstd"));

        // Another repository needs the bytes: the damage is found while uploading them, the publish
        // fails with the code naming the entry, and the entry is deleted.
        var other = repository + "-other";
        var failed = await project.PublishAsync(other, "v2", props);
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("error ZSTDC5002", failed.Output);
        Assert.Contains("publish again", failed.Output);
        Assert.False(File.Exists(victim));

        var second = await project.PublishAsync(other, "v2", props);
        second.EnsureSuccess("publish again after the damaged entry was deleted");
        Assert.Equal(1, CountLines(second.Output, "transcoded to zstd"));
        var (manifest, _, _) = await RegistryProbe.ManifestAsync(other, "v2");
        Assert.Contains(Path.GetFileName(victim), RegistryProbe.Layers(manifest).Select(l => l["digest"]!.GetValue<string>()[7..]));
        repository = other;
        (await Containerd.PullAsync($"{Rig.Registry}/{repository}:v2")).EnsureSuccess("ctr pull verifies every digest");
    }

    [Fact]
    public async Task A_corrupted_cache_entry_read_by_the_index_step_of_a_multi_rid_archive_fails_with_its_code_and_the_next_publish_rebuilds_it()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var cache = Path.Combine(package.WorkRoot, "cache-corrupt-handoff-" + run);
        var archive = Path.Combine(package.WorkRoot, $"corrupt-handoff-{run}.tar");
        var project = await TestProject.CreateAsync(package, "corrupt-handoff", "<RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers>");
        // Base level 3: what is tested is the cache's check, not the compression.
        string[] props = ["-p:ContainerLayerCompression=zstd", "-p:ContainerBaseLayerCompressionLevel=3", "-p:ContainerLayerCacheDirectory=" + cache, "-p:ContainerArchiveOutputPath=" + archive];
        (await project.PublishAsync("it/corrupt-handoff", "v1", props, useRegistry: false)).EnsureSuccess("first multi-RID publish to an archive");

        var victim = Directory.GetFiles(Path.Combine(cache, "v1", "blobs", "sha256")).OrderByDescending(f => new FileInfo(f).Length).First();
        var digest = "sha256:" + Path.GetFileName(victim);
        await using (var stream = new FileStream(victim, FileMode.Open, FileAccess.Write))
        {
            stream.Seek(1000, SeekOrigin.Begin);
            stream.Write("not zstd"u8); // same size: the per-RID builds take the entry, the index step reads it
        }
        string[] RecordsNaming() => [.. Directory.GetFiles(Path.Combine(cache, "v1", "transcoded")).Where(r => File.ReadAllText(r).Contains(digest, StringComparison.Ordinal))];
        Assert.NotEmpty(RecordsNaming());

        var failed = await project.PublishAsync("it/corrupt-handoff", "v2", props, useRegistry: false);
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("error ZSTDC5002", failed.Output);
        Assert.Contains(digest, failed.Output);
        Assert.Contains("publish again", failed.Output);
        Assert.DoesNotContain("   at ", failed.Output);
        Assert.False(File.Exists(victim));
        Assert.Empty(RecordsNaming());

        var second = await project.PublishAsync("it/corrupt-handoff", "v2", props, useRegistry: false);
        second.EnsureSuccess("publish again after the damaged entry was deleted");
        Assert.Contains("transcoded to zstd", second.Output);
        Assert.Equal(digest, Sha256(File.ReadAllBytes(victim)));
        Assert.Equal(digest, Sha256(ArchiveEntry(archive, "blobs/sha256/" + Path.GetFileName(victim))));
    }

    private static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    private static byte[] ArchiveEntry(string archive, string name)
    {
        using var reader = new System.Formats.Tar.TarReader(File.OpenRead(archive));
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.Name == name)
            {
                using var bytes = new MemoryStream();
                entry.DataStream!.CopyTo(bytes);
                return bytes.ToArray();
            }
        }
        throw new InvalidOperationException($"{name} is not in {archive}");
    }

    [Fact]
    public async Task A_corrupt_base_blob_stops_the_publish_with_the_layer_and_both_diff_ids()
    {
        var baseImage = await CorruptBase.PushAsync("it/corrupt-base", "v1");
        var project = await TestProject.CreateAsync(package, "corrupt-base");
        var result = await project.PublishAsync("it/uses-corrupt-base", "v1",
            ["-p:ContainerLayerCompression=zstd", "-p:ContainerLayerCacheDirectory=" + Path.Combine(package.WorkRoot, "cache-corrupt-base")],
            baseImage: baseImage.Reference);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error ZSTDC2004", result.Output);
        Assert.Contains(baseImage.LayerDigest, result.Output);
        Assert.Contains(baseImage.ClaimedDiffId, result.Output);
        Assert.Contains(baseImage.ActualDiffId, result.Output);
        Assert.DoesNotContain("   at ", result.Output);
        await Assert.ThrowsAsync<HttpRequestException>(() => RegistryProbe.ManifestAsync("it/uses-corrupt-base", "v1"));
    }

    private static async Task<string> AmdDigestAsync()
    {
        var (index, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet", "10.0");
        return index["manifests"]!.AsArray().First(m => m!["platform"]!["architecture"]!.GetValue<string>() == "amd64")!["digest"]!.GetValue<string>();
    }

    private static int CountLines(string output, string text) =>
        output.Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal));
}
