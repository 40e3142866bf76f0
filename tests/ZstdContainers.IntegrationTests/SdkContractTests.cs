using System.Text.Json.Nodes;
using ZstdContainers.Tests.Tasks;

namespace ZstdContainers.IntegrationTests;

/// <summary>
/// The SDK's task contract end to end (issue 10): a project calling CreateNewImage with the exact
/// .NET 11 call shape binds to our task and pushes an image containerd runs; an SDK whose image
/// task takes an input we do not know stops at the preflight with ZSTDC1033, never MSB4064.
/// </summary>
[Collection(RigCollection.Name)]
public sealed class SdkContractTests(PackageFixture package)
{
    private const string EpochText = "2023-11-14T22:13:20.0000000Z";

    [Fact]
    public async Task The_dotnet_11_call_shape_binds_to_our_task_and_gives_an_image_with_annotations_and_epoch_labels()
    {
        var project = await TestProject.CreateAsync(package, "net11-shape", """
            <ContainerLayerCompression>zstd</ContainerLayerCompression>
            <ContainerRepository>it/net11-shape</ContainerRepository>
            """);
        // Every input dotnet/sdk main's _PublishSingleContainer passes (tests/contract/sdk-task-contract.md),
        // plus the archive-cache inputs its task declares.
        await File.WriteAllTextAsync(Path.Combine(project.Directory, "Directory.Build.targets"), $$"""
            <Project>
              <ItemGroup>
                <Net11Tag Include="v1" />
                <Net11AppCommand Include="dotnet;/app/app.dll" />
                <Net11Label Include="com.example.team" Value="platform" />
                <Net11Annotation Include="com.example.note" Value="from the .NET 11 call shape" Scope="Manifest" />
                <Net11Annotation Include="org.opencontainers.image.created" Scope="Manifest,Index" />
                <Net11Annotation Include="org.opencontainers.image.base.digest" Scope="Manifest" />
                <Net11Annotation Include="com.example.index-only" Value="index" Scope="Index" />
                <Net11Annotation Include="com.example.unscoped" Value="everywhere" />
              </ItemGroup>
              <!-- The hand-off target gives our task this project's ZstdContainers settings, as
                   PublishContainer does before the SDK's image step. -->
              <Target Name="Net11Image" DependsOnTargets="_ZstdContainersHandOffSettings">
                <CreateNewImage BaseRegistry="{{Rig.Registry}}"
                                BaseImageName="dotnet/aspnet"
                                BaseImageTag="10.0"
                                BaseImageDigest=""
                                ImageFormat="OCI"
                                LocalRegistry=""
                                OutputRegistry="{{Rig.Registry}}"
                                ArchiveOutputPath=""
                                Repository="it/net11-shape"
                                ImageTags="@(Net11Tag)"
                                PublishDirectory="$(PublishDir)"
                                WorkingDirectory="/app/"
                                Entrypoint=""
                                EntrypointArgs=""
                                AppCommand="@(Net11AppCommand)"
                                AppCommandArgs=""
                                AppCommandInstruction=""
                                DefaultArgs=""
                                Labels="@(Net11Label)"
                                Annotations="@(Net11Annotation)"
                                ExposedPorts=""
                                ContainerEnvironmentVariables=""
                                ContainerRuntimeIdentifier="linux-x64"
                                ContainerUser=""
                                SourceDateEpoch="1700000000"
                                RuntimeIdentifierGraphPath="$(RuntimeIdentifierGraphPath)"
                                SkipPublishing="false"
                                NoCache="true"
                                GenerateLabels="true"
                                GenerateCreatedLabels="true"
                                GenerateDigestLabel="true"
                                EnableArchiveIncrementalCache="true"
                                ArchiveIncrementalCachePath="$(IntermediateOutputPath)container-archive.cache.json">
                  <Output TaskParameter="GeneratedContainerDigest" PropertyName="Net11Digest" />
                  <Output TaskParameter="GeneratedContainerMediaType" PropertyName="Net11MediaType" />
                  <Output TaskParameter="GeneratedContainerNames" ItemName="Net11Name" />
                  <Output TaskParameter="GeneratedDigestLabel" ItemName="Net11DigestLabel" />
                </CreateNewImage>
                <Message Importance="high" Text="NET11 digest=$(Net11Digest) type=$(Net11MediaType) names=@(Net11Name) label=@(Net11DigestLabel)" />
              </Target>
            </Project>
            """);
        var result = await Command.RunAsync("dotnet",
            ["publish", project.ProjectFile, "-c", "Release", "-nologo", "-t:Net11Image", "-v:n", "-p:ContainerLayerCacheDirectory=" + package.CacheDirectory],
            project.Directory,
            new Dictionary<string, string?> { ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = Rig.Registry, ["MSBUILDTERMINALLOGGER"] = "off", ["SOURCE_DATE_EPOCH"] = null },
            TimeSpan.FromMinutes(8));
        result.EnsureSuccess("publish through the .NET 11 call shape");

        var (manifest, mediaType, digest) = await RegistryProbe.ManifestAsync("it/net11-shape", "v1");
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", mediaType);
        Assert.Contains($"NET11 digest={digest} type={mediaType} names={Rig.Registry}/it/net11-shape:v1 label=org.opencontainers.image.base.digest", result.Output);
        var annotations = manifest["annotations"]!.AsObject().ToDictionary(a => a.Key, a => a.Value!.GetValue<string>());
        Assert.Equal("from the .NET 11 call shape", annotations["com.example.note"]);
        Assert.Equal("everywhere", annotations["com.example.unscoped"]);
        Assert.Equal(EpochText, annotations["org.opencontainers.image.created"]);
        Assert.StartsWith("sha256:", annotations["org.opencontainers.image.base.digest"]);
        Assert.False(annotations.ContainsKey("com.example.index-only"));

        var config = await RegistryProbe.ConfigAsync("it/net11-shape", manifest);
        var labels = config["config"]!["Labels"]!.AsObject();
        Assert.Equal(EpochText, labels["org.opencontainers.image.created"]!.GetValue<string>());
        Assert.Equal(EpochText, labels["org.opencontainers.artifact.created"]!.GetValue<string>());
        Assert.Equal("platform", labels["com.example.team"]!.GetValue<string>());
        Assert.Equal(annotations["org.opencontainers.image.base.digest"], labels["org.opencontainers.image.base.digest"]!.GetValue<string>());
        Assert.Equal(EpochText, config["created"]!.GetValue<string>());
        Assert.All(RegistryProbe.Layers(manifest), l => Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", l["mediaType"]!.GetValue<string>()));

        (await Containerd.PullAsync($"{Rig.Registry}/it/net11-shape:v1")).EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/net11-shape:v1");
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting, run.Output);
    }

    [Fact]
    public async Task An_sdk_task_with_an_input_we_do_not_know_stops_at_the_preflight_with_ZSTDC1033()
    {
        var project = await TestProject.CreateAsync(package, "preflight");
        var standIn = Path.Combine(project.Directory, "stand-in-sdk", "Microsoft.NET.Build.Containers.dll");
        Directory.CreateDirectory(Path.GetDirectoryName(standIn)!);
        StandInSdkAssembly.Write(standIn, new Dictionary<string, IEnumerable<string>> { ["CreateNewImage"] = ["BaseImageName", "Repository", "FutureInput"] });

        var result = await project.PublishAsync("it/preflight", "v1", ["-p:ContainerLayerCompression=zstd", "-p:_ZstdContainersSdkTasksAssembly=" + standIn]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error ZSTDC1033", result.Output);
        Assert.Contains("The .NET SDK 10.0.401 passes its image tasks parameters", result.Output);
        Assert.Contains("CreateNewImage: FutureInput", result.Output);
        Assert.Contains("unset ContainerLayerCompression", result.Output);
        Assert.DoesNotContain("MSB4064", result.Output);
        Assert.DoesNotContain("   at ", result.Output);
        Assert.DoesNotContain("Pushed", result.Output);
    }

    [Fact]
    public async Task On_msbuild_for_dotnet_framework_a_zstd_publish_stops_with_ZSTDC1036_before_any_of_our_tasks()
    {
        var project = await TestProject.CreateAsync(package, "vs-msbuild");

        var result = await project.PublishAsync("it/vs-msbuild", "v1", ["-p:ContainerLayerCompression=zstd", "-p:_ZstdContainersMSBuildRuntimeType=Full", "-p:ContainerLayerCompressionLevel=99"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error ZSTDC1036", result.Output);
        Assert.Contains("dotnet publish -t:PublishContainer", result.Output);
        Assert.DoesNotContain("ZSTDC1002", result.Output); // our validation task (which would refuse level 99) never ran
        Assert.DoesNotContain("Pushed", result.Output);
    }
}
