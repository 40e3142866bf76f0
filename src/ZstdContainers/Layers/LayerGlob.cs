using System.Text;
using System.Text.RegularExpressions;

namespace ZstdContainers.Layers;

/// <summary>
/// A file pattern relative to the publish folder: '*' and '?' stay within one path segment,
/// '**' crosses segments. A pattern that names a directory ("wwwroot", "models/") takes
/// everything below it. Matching is ordinal and case-sensitive, as paths are in a Linux image.
/// </summary>
public sealed class LayerGlob
{
    private readonly Regex _regex;

    public LayerGlob(string pattern)
    {
        Pattern = pattern;
        var normalized = pattern.Trim().Replace('\\', '/');
        while (normalized.StartsWith("./", StringComparison.Ordinal))
        {
            normalized = normalized[2..];
        }
        _regex = new Regex("^" + Translate(normalized.Trim('/')) + "$", RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    public string Pattern { get; }

    /// <summary>True when the pattern matches the path or one of the directories above it.</summary>
    public bool Matches(string relativePath)
    {
        if (_regex.IsMatch(relativePath))
        {
            return true;
        }
        for (var slash = relativePath.LastIndexOf('/'); slash > 0; slash = relativePath.LastIndexOf('/', slash - 1))
        {
            if (_regex.IsMatch(relativePath[..slash]))
            {
                return true;
            }
        }
        return false;
    }

    private static string Translate(string pattern)
    {
        var regex = new StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                var slashFollows = i + 2 < pattern.Length && pattern[i + 2] == '/';
                // "**/" may also match no directory at all: "**/x.json" matches "x.json".
                regex.Append(slashFollows ? "(?:.*/)?" : ".*");
                i += slashFollows ? 2 : 1;
            }
            else if (c == '*')
            {
                regex.Append("[^/]*");
            }
            else if (c == '?')
            {
                regex.Append("[^/]");
            }
            else
            {
                regex.Append(Regex.Escape(c.ToString()));
            }
        }
        return regex.ToString();
    }
}
