using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>Reads the references of the images the user names as a registry layer cache.</summary>
public static class CacheFromReference
{
    /// <summary>
    /// <c>registry/repository[:tag][@digest]</c>, or <c>repository[:tag]</c> on the output registry.
    /// Null when <paramref name="text"/> is not an image reference.
    /// </summary>
    public static ImageReference? Parse(string text, string outputRegistry)
    {
        var value = text.Trim();
        if (value.Length == 0 || value.Any(char.IsWhiteSpace))
        {
            return null;
        }
        string? digest = null;
        var at = value.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = value[(at + 1)..];
            value = value[..at];
            if (!Digest.TryParse(digest, out _))
            {
                return null;
            }
        }
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? string.Empty : value[..slash];
        var hasRegistry = first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost";
        var registry = hasRegistry ? first : outputRegistry;
        var rest = hasRegistry ? value[(slash + 1)..] : value;
        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
        }
        if (rest.Length == 0 || rest != rest.ToLowerInvariant() || (tag is not null && tag.Length == 0))
        {
            return null;
        }
        return new ImageReference(registry, rest, tag ?? (digest is null ? "latest" : null), digest);
    }
}
