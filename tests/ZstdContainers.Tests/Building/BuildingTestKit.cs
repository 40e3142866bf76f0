using ZstdContainers.Building;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Building;

/// <summary>Requests and logs for the Building tests: the SDK's target defaults, nothing else set.</summary>
internal static class BuildingTestKit
{
    /// <summary>The app command the SDK's targets compute for a framework-dependent x.dll.</summary>
    public static readonly string[] AppCommand = ["dotnet", "/app/x.dll"];

    public static ImageRequest Request() => new()
    {
        BaseImage = new ImageReference("mcr.microsoft.com", "dotnet/aspnet", "10.0"),
        RuntimeIdentifier = "linux-x64",
        PublishDirectory = "/nonexistent/publish",
        WorkingDirectory = "/app/",
        Repository = "myapp",
        Tags = ["latest"],
        AppCommand = AppCommand,
    };

    /// <summary>A digest made of one repeated hex digit, easy to read in expected JSON.</summary>
    public static Digest D(char hexDigit) => Digest.Parse("sha256:" + new string(hexDigit, 64));

    public static KeyValuePair<string, string> Pair(string key, string value) => KeyValuePair.Create(key, value);
}

/// <summary>Keeps every warning (code and text) and every info/detail line.</summary>
internal sealed class RecordingBuildLog : IBuildLog
{
    public List<(string Code, string Message)> Warnings { get; } = [];

    public List<string> Lines { get; } = [];

    public void Info(string message) => Lines.Add("info: " + message);

    public void Detail(string message) => Lines.Add("detail: " + message);

    public void Warning(string code, string message) => Warnings.Add((code, message));
}
