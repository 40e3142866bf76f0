namespace ZstdContainers.IntegrationTests;

/// <summary>
/// SDK 10 joins ContainerWorkingDirectory and the app's file without a '/' when the directory has
/// no trailing slash, so its own image cannot start. Ours writes the corrected path, warns, and runs.
/// </summary>
[Collection(RigCollection.Name)]
public sealed class EntrypointPathTests(PackageFixture package)
{
    [Fact]
    public async Task A_working_directory_without_trailing_slash_gives_an_image_that_starts_with_a_warning()
    {
        var project = await TestProject.CreateAsync(package, "workdir", "<ContainerWorkingDirectory>/srv/app</ContainerWorkingDirectory>");

        // The SDK's own image carries the broken path: what we correct is really there.
        var sdk = await project.PublishAsync("it/workdir-sdk", "v1");
        sdk.EnsureSuccess("SDK publish");
        var (sdkManifest, _, _) = await RegistryProbe.ManifestAsync("it/workdir-sdk", "v1");
        var sdkConfig = await RegistryProbe.ConfigAsync("it/workdir-sdk", sdkManifest);
        Assert.Equal("""["dotnet","/srv/appapp.dll"]""", sdkConfig["config"]!["Entrypoint"]!.ToJsonString());

        var result = await project.PublishAsync("it/workdir", "v1", ["-p:ContainerLayerCompression=zstd"]);
        result.EnsureSuccess("zstd publish");
        Assert.Matches(@"warning ZSTDC1019: The image's Entrypoint named '/srv/appapp\.dll'.*Wrote '/srv/app/app\.dll'", result.Output);

        var (manifest, _, _) = await RegistryProbe.ManifestAsync("it/workdir", "v1");
        var config = await RegistryProbe.ConfigAsync("it/workdir", manifest);
        Assert.Equal("""["dotnet","/srv/app/app.dll"]""", config["config"]!["Entrypoint"]!.ToJsonString());
        Assert.Equal("/srv/app", config["config"]!["WorkingDir"]!.GetValue<string>());

        (await Containerd.PullAsync($"{Rig.Registry}/it/workdir:v1")).EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/workdir:v1");
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);
        Assert.Contains("cwd=/srv/app", run.Output);
    }
}
