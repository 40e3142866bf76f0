using ZstdContainers.Building;
using ZstdContainers.Tasks;
using static ZstdContainers.Tests.Building.BuildingTestKit;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// The SDK 10.0.401 Entrypoint/Cmd truth table (ImageBuilder.DetermineEntrypointAndCmd), row by
/// row. AC defaults to the targets' app command ["dotnet", "/app/x.dll"].
/// </summary>
public sealed class EntrypointRulesTests
{
    private readonly RecordingBuildLog _log = new();

    private EntrypointAndCmd Decide(
        string[]? entrypoint = null,
        string[]? entrypointArgs = null,
        string[]? defaultArgs = null,
        string[]? appCommand = null,
        string[]? appCommandArgs = null,
        string? instruction = null,
        string[]? baseEntrypoint = null)
    {
        var request = Request() with
        {
            Entrypoint = entrypoint ?? [],
            EntrypointArgs = entrypointArgs ?? [],
            DefaultArgs = defaultArgs ?? [],
            AppCommand = appCommand ?? AppCommand,
            AppCommandArgs = appCommandArgs ?? [],
            AppCommandInstruction = AppCommandInstructionSetting.Parse(instruction),
        };
        return EntrypointRules.Decide(request, baseEntrypoint ?? [], _log);
    }

    private ZstdContainersException Fails(
        string[]? entrypoint = null,
        string[]? entrypointArgs = null,
        string[]? defaultArgs = null,
        string[]? appCommand = null,
        string[]? appCommandArgs = null,
        string? instruction = null,
        string[]? baseEntrypoint = null) =>
        Assert.Throws<ZstdContainersException>(() => Decide(entrypoint, entrypointArgs, defaultArgs, appCommand, appCommandArgs, instruction, baseEntrypoint));

    // ---- instruction inferred (empty) ----

    [Fact]
    public void Nothing_set_puts_the_app_command_in_Entrypoint_and_leaves_Cmd_empty()
    {
        var result = Decide();

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Empty(result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Theory]
    [InlineData("dotnet")]
    [InlineData("/usr/bin/dotnet")]
    public void A_base_Entrypoint_of_just_dotnet_is_ignored_without_a_warning(string dotnet)
    {
        var result = Decide(baseEntrypoint: [dotnet]);

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Empty(result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void A_base_Entrypoint_of_just_dotnet_is_not_kept_when_there_is_no_app_command()
    {
        var result = Decide(appCommand: [], baseEntrypoint: ["dotnet"]);

        Assert.Empty(result.Entrypoint);
        Assert.Empty(result.Cmd);
    }

    [Fact]
    public void Whitespace_instruction_counts_as_empty()
    {
        var result = Decide(instruction: "  ");

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Empty(result.Cmd);
    }

    [Fact]
    public void A_non_dotnet_base_Entrypoint_replaced_by_the_app_command_warns_ZSTDC1016()
    {
        var result = Decide(baseEntrypoint: ["/docker-entrypoint.sh", "--init"]);

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Empty(result.Cmd);
        var warning = Assert.Single(_log.Warnings);
        Assert.Equal("ZSTDC1016", warning.Code);
        Assert.Equal(
            "The base image's Entrypoint [/docker-entrypoint.sh, --init] is replaced by the app command. Set ContainerAppCommandInstruction to 'DefaultArgs' to keep it and pass the app command as its arguments, or to 'Entrypoint' to silence this warning.",
            PropertyNames.Render(warning.Message));
    }

    [Fact]
    public void A_base_Entrypoint_with_dotnet_and_more_is_not_the_dotnet_special_case()
    {
        Decide(baseEntrypoint: ["dotnet", "other.dll"]);

        Assert.Equal("ZSTDC1016", Assert.Single(_log.Warnings).Code);
    }

    [Fact]
    public void Base_Entrypoint_warning_also_fires_when_only_DefaultArgs_is_set()
    {
        var result = Decide(defaultArgs: ["--urls", "x"], baseEntrypoint: ["/init"]);

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Equal(["--urls", "x"], result.Cmd);
        Assert.Equal("ZSTDC1016", Assert.Single(_log.Warnings).Code);
    }

    [Fact]
    public void No_app_command_and_a_non_dotnet_base_Entrypoint_keeps_the_base_Entrypoint()
    {
        var result = Decide(appCommand: [], baseEntrypoint: ["/init"]);

        Assert.Equal(["/init"], result.Entrypoint);
        Assert.Empty(result.Cmd);
        Assert.Equal("ZSTDC1016", Assert.Single(_log.Warnings).Code);
    }

    [Fact]
    public void Explicit_instruction_Entrypoint_does_not_warn_about_the_base_Entrypoint()
    {
        var result = Decide(instruction: "Entrypoint", baseEntrypoint: ["/init"]);

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void DefaultArgs_only_goes_to_Cmd_after_the_app_command_Entrypoint()
    {
        var result = Decide(defaultArgs: ["--verbose"]);

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Equal(["--verbose"], result.Cmd);
    }

    [Fact]
    public void AppCommandArgs_follow_the_app_command_in_Entrypoint()
    {
        var result = Decide(appCommandArgs: ["--mode", "fast"], defaultArgs: ["d"]);

        Assert.Equal(["dotnet", "/app/x.dll", "--mode", "fast"], result.Entrypoint);
        Assert.Equal(["d"], result.Cmd);
    }

    [Fact]
    public void Entrypoint_set_infers_DefaultArgs_and_moves_the_app_command_to_Cmd()
    {
        var result = Decide(entrypoint: ["E"]);

        Assert.Equal(["E"], result.Entrypoint);
        Assert.Equal(["dotnet", "/app/x.dll"], result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Entrypoint_and_EntrypointArgs_set_infers_DefaultArgs()
    {
        var result = Decide(entrypoint: ["E"], entrypointArgs: ["ea1", "ea2"]);

        Assert.Equal(["E", "ea1", "ea2"], result.Entrypoint);
        Assert.Equal(["dotnet", "/app/x.dll"], result.Cmd);
    }

    [Fact]
    public void Entrypoint_set_with_AppCommandArgs_and_DefaultArgs_puts_all_three_in_Cmd_in_order()
    {
        var result = Decide(entrypoint: ["E"], appCommandArgs: ["aca"], defaultArgs: ["d"], baseEntrypoint: ["/init"]);

        Assert.Equal(["E"], result.Entrypoint);
        Assert.Equal(["dotnet", "/app/x.dll", "aca", "d"], result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Only_EntrypointArgs_takes_the_None_branch_app_command_as_Entrypoint_args_as_Cmd()
    {
        var result = Decide(entrypointArgs: ["a", "b"], baseEntrypoint: ["/init"]);

        Assert.Equal(["dotnet", "/app/x.dll"], result.Entrypoint);
        Assert.Equal(["a", "b"], result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Only_EntrypointArgs_without_an_app_command_falls_back_to_the_base_Entrypoint()
    {
        var result = Decide(entrypointArgs: ["a"], appCommand: [], baseEntrypoint: ["/init"]);

        Assert.Equal(["/init"], result.Entrypoint);
        Assert.Equal(["a"], result.Cmd);
    }

    [Fact]
    public void EntrypointArgs_with_DefaultArgs_but_no_Entrypoint_infers_DefaultArgs_and_fails_ZSTDC1012()
    {
        var e = Fails(entrypointArgs: ["a"], defaultArgs: ["d"]);

        Assert.Equal("ZSTDC1012", e.Code);
        Assert.Equal(
            "ContainerEntrypointArgs is set but ContainerEntrypoint is not. Set ContainerEntrypoint, or move the arguments to ContainerDefaultArgs.",
            PropertyNames.Render(e.Message));
    }

    [Fact]
    public void EntrypointArgs_with_AppCommandArgs_but_no_Entrypoint_fails_ZSTDC1012_first()
    {
        Assert.Equal("ZSTDC1012", Fails(entrypointArgs: ["a"], appCommandArgs: ["x"]).Code);
    }

    // ---- explicit instructions ----

    [Fact]
    public void Instruction_Entrypoint_puts_app_command_and_its_args_in_Entrypoint_and_DefaultArgs_in_Cmd()
    {
        var result = Decide(instruction: "Entrypoint", appCommandArgs: ["aca"], defaultArgs: ["d1", "d2"]);

        Assert.Equal(["dotnet", "/app/x.dll", "aca"], result.Entrypoint);
        Assert.Equal(["d1", "d2"], result.Cmd);
    }

    [Fact]
    public void Instruction_Entrypoint_without_app_command_uses_the_base_Entrypoint()
    {
        var result = Decide(instruction: "Entrypoint", appCommand: [], defaultArgs: ["d"], baseEntrypoint: ["/init"]);

        Assert.Equal(["/init"], result.Entrypoint);
        Assert.Equal(["d"], result.Cmd);
    }

    [Fact]
    public void Instruction_DefaultArgs_without_Entrypoint_keeps_the_base_Entrypoint_and_puts_the_app_command_in_Cmd()
    {
        var result = Decide(instruction: "DefaultArgs", appCommandArgs: ["aca"], defaultArgs: ["d"], baseEntrypoint: ["/init"]);

        Assert.Equal(["/init"], result.Entrypoint);
        Assert.Equal(["dotnet", "/app/x.dll", "aca", "d"], result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Instruction_DefaultArgs_with_a_dotnet_base_Entrypoint_leaves_Entrypoint_empty()
    {
        var result = Decide(instruction: "DefaultArgs", baseEntrypoint: ["dotnet"]);

        Assert.Empty(result.Entrypoint);
        Assert.Equal(["dotnet", "/app/x.dll"], result.Cmd);
    }

    [Fact]
    public void Instruction_DefaultArgs_with_Entrypoint_and_EntrypointArgs()
    {
        var result = Decide(instruction: "DefaultArgs", entrypoint: ["E"], entrypointArgs: ["ea"], baseEntrypoint: ["/init"]);

        Assert.Equal(["E", "ea"], result.Entrypoint);
        Assert.Equal(["dotnet", "/app/x.dll"], result.Cmd);
    }

    [Fact]
    public void Instruction_None_uses_Entrypoint_and_EntrypointArgs_and_DefaultArgs_only()
    {
        var result = Decide(instruction: "None", appCommand: [], entrypoint: ["E"], entrypointArgs: ["ea"], defaultArgs: ["d"]);

        Assert.Equal(["E", "ea"], result.Entrypoint);
        Assert.Equal(["d"], result.Cmd);
    }

    [Fact]
    public void Instruction_None_without_Entrypoint_keeps_the_base_Entrypoint()
    {
        var result = Decide(instruction: "None", appCommand: [], defaultArgs: ["d"], baseEntrypoint: ["/init"]);

        Assert.Equal(["/init"], result.Entrypoint);
        Assert.Equal(["d"], result.Cmd);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Instruction_None_with_nothing_set_gives_no_Entrypoint_and_no_Cmd()
    {
        var result = Decide(instruction: "None", appCommand: []);

        Assert.Empty(result.Entrypoint);
        Assert.Empty(result.Cmd);
    }

    // ---- errors ----

    [Fact]
    public void EntrypointArgs_without_Entrypoint_under_an_explicit_instruction_fails_ZSTDC1012()
    {
        Assert.Equal("ZSTDC1012", Fails(instruction: "DefaultArgs", entrypointArgs: ["a"]).Code);
        Assert.Equal("ZSTDC1012", Fails(instruction: "None", appCommand: [], entrypointArgs: ["a"]).Code);
        Assert.Equal("ZSTDC1012", Fails(instruction: "Entrypoint", entrypointArgs: ["a"]).Code);
    }

    [Fact]
    public void AppCommandArgs_without_AppCommand_fails_ZSTDC1013()
    {
        var e = Fails(appCommand: [], appCommandArgs: ["x"]);

        Assert.Equal("ZSTDC1013", e.Code);
        Assert.Equal(
            "ContainerAppCommandArgs is set but ContainerAppCommand is empty. Set ContainerAppCommand, or remove ContainerAppCommandArgs.",
            PropertyNames.Render(e.Message));
    }

    [Fact]
    public void Instruction_None_with_an_app_command_fails_ZSTDC1014()
    {
        var e = Fails(instruction: "None");

        Assert.Equal("ZSTDC1014", e.Code);
        Assert.Equal(
            "ContainerAppCommandInstruction is 'None', which leaves the app command out of the image, yet ContainerAppCommand or ContainerAppCommandArgs is set. Remove them, or choose 'Entrypoint' or 'DefaultArgs'.",
            PropertyNames.Render(e.Message));
    }

    [Fact]
    public void Instruction_None_with_app_command_and_args_fails_ZSTDC1014()
    {
        Assert.Equal("ZSTDC1014", Fails(instruction: "None", appCommandArgs: ["x"], entrypoint: ["E"]).Code);
    }

    [Fact]
    public void Instruction_Entrypoint_with_a_ContainerEntrypoint_fails_ZSTDC1015()
    {
        var e = Fails(instruction: "Entrypoint", entrypoint: ["E"]);

        Assert.Equal("ZSTDC1015", e.Code);
        Assert.Equal(
            "ContainerAppCommandInstruction is 'Entrypoint', which makes the app command the Entrypoint, yet ContainerEntrypoint or ContainerEntrypointArgs is set too. Remove them, or set ContainerAppCommandInstruction to 'DefaultArgs'.",
            PropertyNames.Render(e.Message));
    }

    [Fact]
    public void Instruction_Entrypoint_with_Entrypoint_and_EntrypointArgs_fails_ZSTDC1015()
    {
        Assert.Equal("ZSTDC1015", Fails(instruction: "Entrypoint", entrypoint: ["E"], entrypointArgs: ["a"]).Code);
    }

    [Theory]
    [InlineData("entrypoint")]
    [InlineData("DEFAULTARGS")]
    [InlineData("none")]
    [InlineData("Cmd")]
    public void Unknown_or_wrongly_cased_instruction_fails_ZSTDC1007_naming_the_property_and_value(string instruction)
    {
        var e = Assert.Throws<ZstdContainersException>(() => AppCommandInstructionSetting.Parse(instruction));

        Assert.Equal("ZSTDC1007", e.Code);
        Assert.Equal(
            $"ContainerAppCommandInstruction is '{instruction}'. Allowed values (case-sensitive, as in the SDK): Entrypoint, DefaultArgs, None.",
            PropertyNames.Render(e.Message));
    }
}
