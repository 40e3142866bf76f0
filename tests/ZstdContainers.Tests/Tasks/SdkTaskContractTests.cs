using Xunit.Abstractions;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>
/// The contract with the SDK (issue 10): every parameter the installed SDK's image tasks declare
/// exists on ours, read the way the preflight reads it; and the preflight's own error, against a
/// stand-in SDK assembly with one input we do not know.
/// </summary>
public sealed class SdkTaskContractTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("zc-contract-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>Every SDK installed next to the runtime running the tests.</summary>
    public static TheoryData<string> InstalledSdkTaskAssemblies()
    {
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        var found = Directory.EnumerateFiles(Path.Combine(root, "sdk"), "Microsoft.NET.Build.Containers.dll", SearchOption.AllDirectories)
            .Where(p => p.Contains($"{Path.DirectorySeparatorChar}Containers{Path.DirectorySeparatorChar}tasks{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(found);
        return [.. found];
    }

    [Theory]
    [MemberData(nameof(InstalledSdkTaskAssemblies))]
    public void The_installed_sdks_image_task_parameters_are_all_ours(string sdkTasksAssembly)
    {
        var sdk = SdkTaskParameters.Read(sdkTasksAssembly, ["CreateNewImage", "CreateImageIndex"]);
        foreach (var (task, parameters) in sdk)
        {
            output.WriteLine($"{sdkTasksAssembly} {task}: {string.Join(", ", parameters)}");
        }

        // The reader found the tasks and their well-known parameters, inputs and outputs alike.
        Assert.Superset(new SortedSet<string> { "BaseImageName", "PublishDirectory", "Labels", "GeneratedContainerManifest", "GeneratedDigestLabel" }, sdk["CreateNewImage"]);
        Assert.Superset(new SortedSet<string> { "GeneratedContainers", "ImageTags", "GeneratedImageIndex" }, sdk["CreateImageIndex"]);
        Assert.Subset(SdkTaskParameters.Of(typeof(CreateNewImage)), sdk["CreateNewImage"]);
        Assert.Subset(SdkTaskParameters.Of(typeof(CreateImageIndex)), sdk["CreateImageIndex"]);
        Assert.Empty(PreflightSdkContract.UnknownParameters(sdkTasksAssembly));
    }

    [Fact]
    public void Our_tasks_take_the_dotnet_11_call_shape()
    {
        // tests/contract/sdk-task-contract.md: what dotnet/sdk main passes (and its task declares)
        Assert.Subset(SdkTaskParameters.Of(typeof(CreateNewImage)), new SortedSet<string>
        {
            "BaseRegistry", "BaseImageName", "BaseImageTag", "BaseImageDigest", "ImageFormat", "LocalRegistry", "OutputRegistry",
            "ArchiveOutputPath", "Repository", "ImageTags", "PublishDirectory", "WorkingDirectory", "Entrypoint", "EntrypointArgs",
            "AppCommand", "AppCommandArgs", "AppCommandInstruction", "DefaultArgs", "Labels", "Annotations", "ExposedPorts",
            "ContainerEnvironmentVariables", "ContainerRuntimeIdentifier", "ContainerUser", "SourceDateEpoch",
            "RuntimeIdentifierGraphPath", "SkipPublishing", "NoCache", "GenerateLabels", "GenerateCreatedLabels", "GenerateDigestLabel",
            "EnableArchiveIncrementalCache", "ArchiveIncrementalCachePath", "ContainerizeDirectory", "ToolExe", "ToolPath",
            "GeneratedContainerManifest", "GeneratedContainerConfiguration", "GeneratedContainerDigest", "GeneratedArchiveOutputPath",
            "GeneratedContainerMediaType", "GeneratedContainerNames", "GeneratedDigestLabel",
        });
        Assert.Subset(SdkTaskParameters.Of(typeof(CreateImageIndex)), new SortedSet<string>
        {
            "GeneratedContainers", "LocalRegistry", "OutputRegistry", "ArchiveOutputPath", "Repository", "ImageTags", "Annotations",
            "SourceDateEpoch", "BaseRegistry", "BaseImageName", "BaseImageTag", "BaseImageDigest", "BaseImageSource",
            "GeneratedArchiveOutputPath", "GeneratedImageIndex",
        });
    }

    [Fact]
    public void An_sdk_with_one_unknown_input_stops_the_preflight_with_a_coded_error_naming_it_and_the_ways_out()
    {
        var standIn = Path.Combine(_work, "Microsoft.NET.Build.Containers.dll");
        StandInSdkAssembly.Write(standIn, new Dictionary<string, IEnumerable<string>>
        {
            ["CreateNewImage"] = [.. SdkTaskParameters.Of(typeof(CreateNewImage)), "FutureInput"],
            ["CreateImageIndex"] = ["Repository", "ImageTags"],
        });
        var engine = new FakeBuildEngine();
        var task = new PreflightSdkContract { BuildEngine = engine, SdkTasksAssembly = standIn, SdkVersion = "11.0.100-preview.1" };

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("ZSTDC1033", error.Code);
        Assert.Contains("11.0.100-preview.1", error.Message);
        Assert.Contains("CreateNewImage: FutureInput", error.Message);
        Assert.DoesNotContain("CreateImageIndex", error.Message);
        Assert.Contains("Update the ZstdContainers package", error.Message);
        Assert.Contains("unset ContainerLayerCompression", error.Message);
    }

    [Fact]
    public void An_sdk_whose_inputs_are_all_known_passes_the_preflight()
    {
        var standIn = Path.Combine(_work, "Microsoft.NET.Build.Containers.dll");
        StandInSdkAssembly.Write(standIn, new Dictionary<string, IEnumerable<string>> { ["CreateNewImage"] = ["BaseImageName", "Annotations"] });
        var engine = new FakeBuildEngine();

        Assert.True(new PreflightSdkContract { BuildEngine = engine, SdkTasksAssembly = standIn, SdkVersion = "10.0.401" }.Execute());
        Assert.Empty(engine.Errors);
    }

    [Fact]
    public void A_file_that_is_no_assembly_is_a_coded_error_not_a_stack_trace()
    {
        var bogus = Path.Combine(_work, "Microsoft.NET.Build.Containers.dll");
        File.WriteAllText(bogus, "not a PE file");
        var engine = new FakeBuildEngine();

        Assert.False(new PreflightSdkContract { BuildEngine = engine, SdkTasksAssembly = bogus, SdkVersion = "10.0.401" }.Execute());
        Assert.Equal("ZSTDC1033", Assert.Single(engine.Errors).Code);
    }

    [Theory]
    [InlineData("win-x64", "")]
    [InlineData("", "linux-x64;win-arm64")]
    public void Windows_rids_are_refused_with_a_coded_error(string rid, string rids)
    {
        var engine = new FakeBuildEngine();

        Assert.False(new PreflightSdkContract { BuildEngine = engine, ContainerRuntimeIdentifier = rid, ContainerRuntimeIdentifiers = rids }.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("ZSTDC1035", error.Code);
        Assert.Contains("unset ContainerLayerCompression", error.Message);
    }
}
