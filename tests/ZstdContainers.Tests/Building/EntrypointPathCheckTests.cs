using ZstdContainers.Building;
using static ZstdContainers.Tests.Building.BuildingTestKit;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// EntrypointPathCheck against a real publish folder on disk: the SDK 10 join without '/'
/// ("/srv/app" + "MyApp.dll") is corrected with a warning, a missing app file is warned about,
/// and everything it cannot judge (base-image paths, options) is left exactly as it was.
/// </summary>
public sealed class EntrypointPathCheckTests : IDisposable
{
    private readonly string _publish = Directory.CreateTempSubdirectory("zc-publish-").FullName;
    private readonly RecordingBuildLog _log = new();

    public EntrypointPathCheckTests()
    {
        File.WriteAllText(Path.Combine(_publish, "MyApp.dll"), "app");
        Directory.CreateDirectory(Path.Combine(_publish, "tools"));
        File.WriteAllText(Path.Combine(_publish, "tools", "run.sh"), "#!/bin/sh");
    }

    public void Dispose() => Directory.Delete(_publish, recursive: true);

    private EntrypointAndCmd Apply(string workingDirectory, string[] entrypoint, string[]? cmd = null) =>
        EntrypointPathCheck.Apply(new EntrypointAndCmd(entrypoint, cmd ?? []), _publish, workingDirectory, _log);

    [Fact]
    public void The_sdks_join_without_a_slash_is_corrected_with_a_warning_that_gives_the_fix()
    {
        var entry = Apply("/srv/app", ["dotnet", "/srv/appMyApp.dll"]);

        Assert.Equal(["dotnet", "/srv/app/MyApp.dll"], entry.Entrypoint);
        var (code, message) = Assert.Single(_log.Warnings);
        Assert.Equal("ZSTDC1019", code);
        Assert.Contains("'/srv/appMyApp.dll'", message);
        Assert.Contains("Wrote '/srv/app/MyApp.dll'", message);
        Assert.Contains("'/srv/app/'", message);
    }

    [Fact]
    public void The_same_join_in_cmd_is_corrected_too()
    {
        var entry = Apply("/srv/app", ["/usr/bin/tini", "--"], ["/srv/apptools/run.sh", "--verbose"]);

        Assert.Equal(["/usr/bin/tini", "--"], entry.Entrypoint);
        Assert.Equal(["/srv/app/tools/run.sh", "--verbose"], entry.Cmd);
        Assert.Contains("Cmd", Assert.Single(_log.Warnings).Message);
    }

    [Fact]
    public void A_file_missing_under_the_working_directory_is_warned_about_and_left_as_it_is()
    {
        var entry = Apply("/app/", ["dotnet", "/app/Other.dll"]);

        Assert.Equal(["dotnet", "/app/Other.dll"], entry.Entrypoint);
        var (code, message) = Assert.Single(_log.Warnings);
        Assert.Equal("ZSTDC1020", code);
        Assert.Contains("'/app/Other.dll'", message);
        Assert.Contains("will not start", message);
    }

    [Fact]
    public void Correct_paths_base_image_paths_and_options_pass_without_a_warning()
    {
        var entry = Apply("/srv/app/", ["/usr/bin/dotnet", "/srv/app/MyApp.dll", "--urls=http://+:80"], ["/srv/app/tools"]);

        Assert.Equal(["/usr/bin/dotnet", "/srv/app/MyApp.dll", "--urls=http://+:80"], entry.Entrypoint);
        Assert.Equal(["/srv/app/tools"], entry.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void A_neighbour_of_the_working_directory_is_not_judged()
    {
        // "/srv/application" starts with "/srv/app" but "lication" is no app file: it is not ours.
        var entry = Apply("/srv/app", ["/srv/application"]);

        Assert.Equal(["/srv/application"], entry.Entrypoint);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void A_root_working_directory_is_not_judged()
    {
        var entry = Apply("/", ["/usr/bin/dotnet", "/Missing.dll"]);

        Assert.Equal(["/usr/bin/dotnet", "/Missing.dll"], entry.Entrypoint);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Compose_writes_the_corrected_entrypoint_into_the_config()
    {
        var request = Request() with
        {
            PublishDirectory = _publish,
            WorkingDirectory = "/srv/app",
            AppCommand = ["dotnet", "/srv/appMyApp.dll"],
        };
        var baseConfig = System.Text.Json.Nodes.JsonNode.Parse("""{"architecture":"amd64","os":"linux","config":{}}""")!.AsObject();

        var config = ContainerConfigComposer.Compose(baseConfig, request, D('c'), [D('d')], DateTimeOffset.UnixEpoch, "test", _log);

        Assert.Equal("""["dotnet","/srv/app/MyApp.dll"]""", config["config"]!["Entrypoint"]!.ToJsonString());
        Assert.Equal("/srv/app", config["config"]!["WorkingDir"]!.GetValue<string>());
        Assert.Equal("ZSTDC1019", Assert.Single(_log.Warnings).Code);
    }
}
