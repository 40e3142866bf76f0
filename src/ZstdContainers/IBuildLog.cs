namespace ZstdContainers;

/// <summary>
/// Where the core library reports progress. The MSBuild tasks map it to the build log
/// (Info = normal verbosity, Detail = detailed verbosity); tests capture it. Never pass a secret.
/// </summary>
public interface IBuildLog
{
    /// <summary>One line a user sees at normal verbosity (one per layer).</summary>
    void Info(string message);

    /// <summary>The line that says what was published; shown at minimal verbosity too.</summary>
    void Summary(string message) => Info(message);

    /// <summary>Diagnostics shown at detailed verbosity (requests, cache decisions).</summary>
    void Detail(string message);

    void Warning(string code, string message);
}

/// <summary>A log that drops everything, for callers that do not care.</summary>
public sealed class NullBuildLog : IBuildLog
{
    public static readonly NullBuildLog Instance = new();

    public void Info(string message) { }

    public void Detail(string message) { }

    public void Warning(string code, string message) { }
}
