using ZstdContainers.Building;
using ZstdContainers.Layers;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>The image tasks get the settings of their own project instance, or a coded error; never defaults.</summary>
public sealed class SettingsHandOffTests
{
    private static readonly HandedOffSettings Settings = new(new CompressionOptions { UseZstd = true, Level = 19 }, LayerSplitOptions.None);

    [Fact]
    public void The_image_task_of_the_same_project_instance_finds_the_settings()
    {
        var engine = new FakeBuildEngine();
        engine.GlobalProperties["RuntimeIdentifier"] = "linux-arm64";

        SettingsHandOff.Register(engine, "team/app", Settings);

        Assert.Same(Settings, SettingsHandOff.Find(engine, "team/app"));
    }

    [Fact]
    public void Another_repository_or_inner_build_is_a_miss_and_a_miss_is_ZSTDC1018()
    {
        var engine = new FakeBuildEngine();
        engine.GlobalProperties["RuntimeIdentifier"] = "linux-arm64";
        SettingsHandOff.Register(engine, "team/app", Settings);

        var otherRepository = Assert.Throws<ZstdContainersException>(() => SettingsHandOff.Find(engine, "team/other"));
        engine.GlobalProperties["RuntimeIdentifier"] = "linux-x64";
        var otherInnerBuild = Assert.Throws<ZstdContainersException>(() => SettingsHandOff.Find(engine, "team/app"));

        Assert.Equal(ErrorCodes.SettingsNotHandedOff, otherRepository.Code);
        Assert.Contains("'team/other'", otherRepository.Message);
        Assert.Equal(ErrorCodes.SettingsNotHandedOff, otherInnerBuild.Code);
        Assert.Contains("_ZstdContainersHandOffSettings", otherInnerBuild.Message);
    }

    [Fact]
    public void CreateNewImage_without_the_hand_off_fails_with_ZSTDC1018_before_any_work()
    {
        var engine = new FakeBuildEngine();
        var task = new CreateNewImage
        {
            BuildEngine = engine,
            BaseRegistry = "127.0.0.1:1",
            BaseImageName = "base",
            BaseImageTag = "1",
            Repository = "team/app",
            ImageTags = ["v1"],
            PublishDirectory = "/nonexistent/publish",
            WorkingDirectory = "/app",
            ContainerRuntimeIdentifier = "linux-x64",
        };

        Assert.False(task.Execute());

        Assert.Equal(ErrorCodes.SettingsNotHandedOff, Assert.Single(engine.Errors).Code);
    }
}
