using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ZstdContainers.Reporting;

/// <summary>
/// Writes the report where people and scripts look for it: <c>zstdcontainers-report.json</c> (and
/// <c>.md</c>) next to the publish folder, the job summary in GitHub Actions
/// (<c>GITHUB_STEP_SUMMARY</c>), and an uploaded build summary in Azure DevOps (<c>TF_BUILD</c>).
/// The image is already published when this runs, so a report that cannot be written is a warning.
/// </summary>
public static partial class PublishReportOutput
{
    public const string JsonFileName = "zstdcontainers-report.json";
    public const string MarkdownFileName = "zstdcontainers-report.md";

    // The metadata is source-generated (ReportJson): reflection-based serialization builds it at run
    // time, start-up cost in the fresh MSBuild process of every CI publish.
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = ReportJson.Default,
    };

    /// <summary>
    /// The folder the report goes in: the publish folder's parent (bin/Release/net10.0/ for
    /// bin/Release/net10.0/publish/), never the publish folder itself, whose files become the app layer.
    /// </summary>
    public static string DirectoryFor(string publishDirectory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(publishDirectory));
        return Path.GetDirectoryName(full) ?? full;
    }

    public static string ToJson(PublishReport report) => JsonSerializer.Serialize(report, JsonOptions);

    /// <summary>Writes the files and the CI summaries; returns the JSON file's path, or null when it could not be written.</summary>
    public static string? Write(PublishReport report, string directory, IReadOnlyDictionary<string, string?> environment, IBuildLog log)
    {
        var markdown = PublishReportMarkdown.Render(report);
        var jsonPath = Path.Combine(directory, JsonFileName);
        var markdownPath = Path.Combine(directory, MarkdownFileName);
        if (!TryWrite(jsonPath, ToJson(report) + "\n", append: false, log, ErrorCodes.ReportNotWritten, "the publish report")
            || !TryWrite(markdownPath, markdown, append: false, log, ErrorCodes.ReportNotWritten, "the publish report"))
        {
            return null;
        }
        log.Info($"  publish report: {jsonPath}");

        if (environment.TryGetValue("GITHUB_STEP_SUMMARY", out var stepSummary) && !string.IsNullOrWhiteSpace(stepSummary))
        {
            // The job summary may hold other steps' output: append, with a blank line between.
            if (TryWrite(stepSummary, markdown + "\n", append: true, log, ErrorCodes.StepSummaryNotWritten, "the GitHub Actions job summary (GITHUB_STEP_SUMMARY)"))
            {
                log.Detail($"Appended the publish report to the job summary {stepSummary}");
            }
        }
        if (environment.TryGetValue("TF_BUILD", out var tfBuild) && string.Equals(tfBuild, "True", StringComparison.OrdinalIgnoreCase))
        {
            // The Azure Pipelines agent reads logging commands from the step's output.
            log.Summary($"##vso[task.uploadsummary]{markdownPath}");
        }
        return jsonPath;
    }

    private static bool TryWrite(string path, string text, bool append, IBuildLog log, string code, string what)
    {
        try
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
            if (append)
            {
                File.AppendAllText(path, text, new UTF8Encoding(false));
            }
            else
            {
                // Written beside and renamed: a reader never sees half a report.
                var temp = path + ".tmp-" + Environment.ProcessId;
                File.WriteAllText(temp, text, new UTF8Encoding(false));
                File.Move(temp, path, overwrite: true);
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning(code, $"Could not write {what} to {path}: {e.Message} The image was published; only the report is missing. Check that the folder exists and is writable.");
            return false;
        }
    }

    [JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
    [JsonSerializable(typeof(PublishReport))]
    private sealed partial class ReportJson : JsonSerializerContext;
}
