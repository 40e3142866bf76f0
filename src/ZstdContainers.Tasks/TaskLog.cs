using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace ZstdContainers.Tasks;

/// <summary>Maps the core library's log and errors onto the MSBuild log.</summary>
internal sealed class TaskLog(TaskLoggingHelper log) : IBuildLog
{
    public void Info(string message) => log.LogMessage(MessageImportance.Normal, message);

    public void Summary(string message) => log.LogMessage(MessageImportance.High, message);

    public void Detail(string message) => log.LogMessage(MessageImportance.Low, message);

    public void Warning(string code, string message) =>
        log.LogWarning(subcategory: null, code, helpKeyword: null, file: null, 0, 0, 0, 0, message);

    /// <summary>An expected failure: its code and sentence, never a stack trace.</summary>
    public static void Error(TaskLoggingHelper log, ZstdContainersException e) =>
        log.LogError(subcategory: null, e.Code, helpKeyword: null, file: null, 0, 0, 0, 0, e.Message);
}
