using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>The core names settings by placeholder; the build log shows the MSBuild property instead.</summary>
public sealed class PropertyNamesTests
{
    [Fact]
    public void Every_setting_the_core_can_name_has_an_MSBuild_property()
    {
        Assert.True(UserSetting.All.Count >= 16, $"only {UserSetting.All.Count} settings found");
        Assert.All(UserSetting.All, s => Assert.True(PropertyNames.IsNamed(s), $"{s.Id} has no MSBuild property name"));
        Assert.Equal(UserSetting.All.Count, UserSetting.All.Select(PropertyNames.Of).Distinct().Count());
    }

    [Fact]
    public void A_message_shows_the_property_in_place_of_the_placeholder()
    {
        var message = $"set {UserSetting.RecompressBaseLayers}=false, or {UserSetting.Registry} and {UserSetting.Registry}";

        Assert.Equal("set ContainerRecompressBaseLayers=false, or ContainerRegistry and ContainerRegistry", PropertyNames.Render(message));
        Assert.Equal([UserSetting.RecompressBaseLayers, UserSetting.Registry], UserSetting.NamedIn(message));
        Assert.Equal("no {setting:Unknown} braces {x}", PropertyNames.Render("no {setting:Unknown} braces {x}"));
    }

    [Fact]
    public void The_task_logs_a_core_error_and_warning_with_property_names()
    {
        var engine = new FakeBuildEngine();

        Assert.False(new FailingTask { BuildEngine = engine }.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal(ErrorCodes.UnsupportedBaseLayer, error.Code);
        Assert.Equal("Set ContainerRecompressBaseLayers=false.", error.Message);
        Assert.Equal("Set ContainerLayerCacheDirectory.", Assert.Single(engine.Warnings).Message);
        Assert.Contains(engine.Messages, m => m.Message == "kept (ContainerRecompressBaseLayers=false)");
    }

    [Fact]
    public void An_unexpected_failure_quoting_a_core_message_shows_property_names_too()
    {
        var engine = new FakeBuildEngine();

        Assert.False(new FailingTask { BuildEngine = engine, Unexpected = true }.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal(ErrorCodes.UnexpectedFailure, error.Code);
        Assert.Contains("check ContainerBaseImage.", error.Message);
        Assert.DoesNotContain("{setting:", string.Concat(engine.Messages.Select(m => m.Message)));
    }

    private sealed class FailingTask : CoreTask
    {
        public bool Unexpected { get; init; }

        protected override System.Threading.Tasks.Task RunAsync(IBuildLog log, CancellationToken cancellationToken)
        {
            log.Info($"kept ({UserSetting.RecompressBaseLayers}=false)");
            log.Warning(ErrorCodes.CacheUnusable, $"Set {UserSetting.LayerCacheDirectory}.");
            throw Unexpected
                ? new InvalidOperationException($"check {UserSetting.BaseImage}")
                : new ZstdContainersException(ErrorCodes.UnsupportedBaseLayer, $"Set {UserSetting.RecompressBaseLayers}=false.");
        }
    }
}
