namespace ZstdContainers;

/// <summary>
/// Where the core library reports progress. The MSBuild tasks map it to the build log
/// (Info = normal verbosity, Detail = detailed verbosity); tests capture it. Never pass a secret.
/// </summary>
public interface IBuildLog
{
    /// <summary>One line a user sees at normal verbosity (per layer, summary).</summary>
    void Info(string message);

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
