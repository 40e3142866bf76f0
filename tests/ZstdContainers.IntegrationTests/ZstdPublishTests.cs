using System.Text.Json.Nodes;

namespace ZstdContainers.IntegrationTests;

[Collection(RigCollection.Name)]
public sealed class ZstdPublishTests(PackageFixture package)
{
    private const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    private const string ZstdLayer = "application/vnd.oci.image.layer.v1.tar+zstd";

    [Fact]
    public async Task Zstd_publish_pushes_an_oci_image_that_containerd_pulls_and_runs()
    {
        var project = await TestProject.CreateAsync(package, "e2e");
        var result = await project.PublishAsync("it/e2e", "v1", ["-p:ContainerLayerCompression=zstd"]);
        result.EnsureSuccess("zstd publish");

        var (manifest, mediaType, _) = await RegistryProbe.ManifestAsync("it/e2e", "v1");
        Assert.Equal(OciManifest, mediaType);
        Assert.Equal(OciManifest, manifest["mediaType"]!.GetValue<string>());
        Assert.Equal("application/vnd.oci.image.config.v1+json", manifest["config"]!["mediaType"]!.GetValue<string>());
        var layers = RegistryProbe.Layers(manifest).ToList();
        Assert.Equal(4, layers.Count); // 3 base layers + the app layer
        Assert.All(layers, l => Assert.Equal(ZstdLayer, l["mediaType"]!.GetValue<string>()));

        // diff_ids in the config are the sha256 of each decompressed layer, recompressed base layers included
        var config = await RegistryProbe.ConfigAsync("it/e2e", manifest);
        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        for (var i = 0; i < layers.Count; i++)
        {
            Assert.Equal(diffIds[i], await RegistryProbe.DiffIdAsync("it/e2e", layers[i]));
        }

        var pull = await Containerd.PullAsync($"{Rig.Registry}/it/e2e:v1");
        pull.EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/e2e:v1");
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);
        Assert.Contains("uid=1654 cwd=/app", run.Output);

        // the log tells the user what happened, one line per layer and a summary
        Assert.Contains("app layer sha256:", result.Output);
        Assert.Matches(@"Pushed 127\.0\.0\.1:\d+/it/e2e:v1 \(sha256:[0-9a-f]{64}\)", result.Output);
    }

    [Fact]
    public async Task Config_matches_the_sdks_own_gzip_image_of_the_same_project()
    {
        var extra = """
            <ContainerUser>1654</ContainerUser>
            <ContainerWorkingDirectory>/srv/app/</ContainerWorkingDirectory>
            <Description>parity check</Description>
            """;
        var project = await TestProject.CreateAsync(package, "parity", extra);
        var items = """
            <Project>
              <ItemGroup>
                <ContainerPort Include="5000" Type="tcp" />
                <ContainerPort Include="5001" Type="udp" />
                <ContainerEnvironmentVariable Include="GREETING" Value="hi" />
                <ContainerEnvironmentVariable Include="ASPNETCORE_HTTP_PORTS" Value="9000" />
                <ContainerLabel Include="com.example.team" Value="platform" />
                <ContainerAppCommandArgs Include="--from-args" />
                <ContainerDefaultArgs Include="--default" />
              </ItemGroup>
            </Project>
            """;
        await File.WriteAllTextAsync(Path.Combine(project.Directory, "Directory.Build.targets"), items);

        (await project.PublishAsync("it/parity-gzip", "v1")).EnsureSuccess("SDK gzip publish");
        (await project.PublishAsync("it/parity-zstd", "v1", ["-p:ContainerLayerCompression=zstd"])).EnsureSuccess("zstd publish");

        var sdk = await ConfigOf("it/parity-gzip");
        var ours = await ConfigOf("it/parity-zstd");
        foreach (var field in new[] { "Env", "Entrypoint", "Cmd", "WorkingDir", "User", "ExposedPorts", "Volumes", "StopSignal" })
        {
            Assert.True(JsonNode.DeepEquals(sdk["config"]![field], ours["config"]![field]),
                $"config.{field}: SDK {sdk["config"]![field]?.ToJsonString()} vs ours {ours["config"]![field]?.ToJsonString()}");
        }
        Assert.Equal(sdk["architecture"]!.ToJsonString(), ours["architecture"]!.ToJsonString());
        Assert.Equal(sdk["os"]!.ToJsonString(), ours["os"]!.ToJsonString());
        Assert.Equal(sdk["history"]!.AsArray().Count, ours["history"]!.AsArray().Count);

        // Labels: the same keys and values, except the two creation times (each publish has its own).
        static Dictionary<string, string> Labels(JsonObject c) => c["config"]!["Labels"]!.AsObject()
            .Where(l => !l.Key.EndsWith(".created", StringComparison.Ordinal))
            .ToDictionary(l => l.Key, l => l.Value!.GetValue<string>());
        Assert.Equal(Labels(sdk), Labels(ours));
        Assert.Equal("platform", Labels(ours)["com.example.team"]);
        Assert.StartsWith("sha256:", Labels(ours)["org.opencontainers.image.base.digest"]);
        Assert.Equal(Rig.BaseImage, Labels(ours)["org.opencontainers.image.base.name"]);

        // the base layers' diff_ids are the same; only the app layer's may differ (the SDK's is not reproducible)
        var sdkIds = sdk["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        var ourIds = ours["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        Assert.Equal(sdkIds.Count, ourIds.Count);
        Assert.Equal(sdkIds[..^1], ourIds[..^1]);
    }

    [Fact]
    public async Task Two_publishes_of_the_same_output_give_the_same_app_layer_digest()
    {
        var project = await TestProject.CreateAsync(package, "repro");
        (await project.PublishAsync("it/repro", "a", ["-p:ContainerLayerCompression=zstd"])).EnsureSuccess("first publish");
        // a second publish rewrites the publish folder (new file times); the layer must not change
        (await project.PublishAsync("it/repro", "b", ["-p:ContainerLayerCompression=zstd"])).EnsureSuccess("second publish");

        var (first, _, _) = await RegistryProbe.ManifestAsync("it/repro", "a");
        var (second, _, _) = await RegistryProbe.ManifestAsync("it/repro", "b");
        Assert.Equal(
            RegistryProbe.Layers(first).Last()["digest"]!.GetValue<string>(),
            RegistryProbe.Layers(second).Last()["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_source_date_epoch_and_no_creation_label_the_whole_image_is_reproducible()
    {
        var project = await TestProject.CreateAsync(package, "repro-full");
        var env = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = "1700000000" };
        string[] props = ["-p:ContainerLayerCompression=zstd", "-p:ContainerGenerateLabelsImageCreated=false"];
        (await project.PublishAsync("it/repro-full", "a", props, env)).EnsureSuccess("first publish");
        (await project.PublishAsync("it/repro-full", "b", props, env)).EnsureSuccess("second publish");

        var (_, _, digestA) = await RegistryProbe.ManifestAsync("it/repro-full", "a");
        var (manifestB, _, digestB) = await RegistryProbe.ManifestAsync("it/repro-full", "b");
        Assert.Equal(digestA, digestB);
        var config = await RegistryProbe.ConfigAsync("it/repro-full", manifestB);
        Assert.Equal("2023-11-14T22:13:20.0000000Z", config["created"]!.GetValue<string>());
    }

    [Fact]
    public async Task Without_the_property_the_sdks_own_gzip_path_runs()
    {
        var project = await TestProject.CreateAsync(package, "gzip-default");
        var result = await project.PublishAsync("it/gzip-default", "v1");
        result.EnsureSuccess("SDK publish");

        var (manifest, _, _) = await RegistryProbe.ManifestAsync("it/gzip-default", "v1");
        Assert.All(RegistryProbe.Layers(manifest), l => Assert.EndsWith("gzip", l["mediaType"]!.GetValue<string>()));
        Assert.DoesNotContain("ZstdContainers", result.Output);
    }

    [Theory]
    [InlineData("-p:ContainerLayerCompression=brotli", "ZSTDC1001", "ContainerLayerCompression")]
    [InlineData("-p:ContainerLayerCompressionLevel=23", "ZSTDC1002", "ContainerLayerCompressionLevel")]
    [InlineData("-p:ContainerLayerCompressionLevel=0", "ZSTDC1002", "from 1 to 22")]
    [InlineData("-p:ContainerLayerCompressionLevel=fast", "ZSTDC1002", "'fast'")]
    [InlineData("-p:ContainerRecompressBaseLayers=maybe", "ZSTDC1003", "ContainerRecompressBaseLayers")]
    [InlineData("-p:ContainerImageFormat=Docker", "ZSTDC1006", "OCI")]
    public async Task Bad_settings_stop_the_build_with_a_coded_error_before_any_network_work(string property, string code, string mention)
    {
        var project = await TestProject.CreateAsync(package, "bad-" + code + "-" + Math.Abs(property.GetHashCode()));
        // Registry and base image point at a closed port: reaching the network would give another error.
        var result = await project.PublishAsync("it/bad", "v1",
            ["-p:ContainerLayerCompression=zstd", property, "-p:ContainerRegistry=127.0.0.1:9"],
            baseImage: "127.0.0.1:9/nothing/here:1", useRegistry: false);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"error {code}:", result.Output);
        Assert.Contains(mention, result.Output);
        Assert.DoesNotContain("ZSTDC3", result.Output);
        Assert.DoesNotContain("   at ", result.Output); // no stack trace
    }

    private static async Task<JsonObject> ConfigOf(string repository)
    {
        var (manifest, _, _) = await RegistryProbe.ManifestAsync(repository, "v1");
        return await RegistryProbe.ConfigAsync(repository, manifest);
    }
}
