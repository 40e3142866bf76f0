using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace ZstdContainers.Tasks;

/// <summary>
/// Maps the core library's log and errors onto the MSBuild log, with the settings the core names
/// written as the MSBuild properties that set them (<see cref="PropertyNames"/>).
/// </summary>
internal sealed class TaskLog(TaskLoggingHelper log) : IBuildLog
{
    public void Info(string message) => log.LogMessage(MessageImportance.Normal, PropertyNames.Render(message));

    public void Summary(string message) => log.LogMessage(MessageImportance.High, PropertyNames.Render(message));

    public void Detail(string message) => log.LogMessage(MessageImportance.Low, PropertyNames.Render(message));

    public void Warning(string code, string message) =>
        log.LogWarning(subcategory: null, code, helpKeyword: null, file: null, 0, 0, 0, 0, PropertyNames.Render(message));

    /// <summary>
    /// An unexpected failure: one error line with its own code that asks for a report; the stack
    /// goes to the log at low importance (seen with -v:detailed).
    /// </summary>
    public static void Unexpected(TaskLoggingHelper log, string task, Exception e)
    {
        log.LogError(subcategory: null, ErrorCodes.UnexpectedFailure, helpKeyword: null, file: null, 0, 0, 0, 0,
            $"ZstdContainers failed unexpectedly in {task}: {e.GetType().Name}: {FirstLine(PropertyNames.Render(e.Message))} This is a bug in ZstdContainers: please report it with this line and the output of the publish with -v:detailed (which shows where it failed). Meanwhile, unsetting ContainerLayerCompression publishes with the SDK's own gzip layers.");
        log.LogMessage(MessageImportance.Low, "ZstdContainers: where it failed: " + PropertyNames.Render(e.ToString()));
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.EndsWith('.') ? line : line + ".";
    }

    /// <summary>An expected failure: its code and sentence, never a stack trace.</summary>
    public static void Error(TaskLoggingHelper log, ZstdContainersException e) =>
        log.LogError(subcategory: null, e.Code, helpKeyword: null, file: null, 0, 0, 0, 0, PropertyNames.Render(e.Message));
}
