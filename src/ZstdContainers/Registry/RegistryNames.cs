using System.Text.RegularExpressions;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>The distribution spec's grammar for repository names, tags and digests the client is asked for.</summary>
internal static partial class RegistryNames
{
    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex TagPattern();

    public static void ValidateRepository(string repository)
    {
        ArgumentNullException.ThrowIfNull(repository);
        if (repository.Length > 255 || !RepositoryPattern().IsMatch(repository))
        {
            throw new ArgumentException($"'{repository}' is not a repository name (lowercase path components like 'dotnet/aspnet').", nameof(repository));
        }
    }

    /// <summary>A tag, or a sha256 digest (returned so the content can be checked against it).</summary>
    public static Digest? ValidateReference(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Contains(':'))
        {
            if (Digest.TryParse(reference, out var digest))
            {
                return digest;
            }
            throw new ArgumentException($"'{reference}' is not a sha256 digest; only sha256 digests are supported.", nameof(reference));
        }
        if (!TagPattern().IsMatch(reference))
        {
            throw new ArgumentException($"'{reference}' is not a tag (letters, digits, '_', '.', '-'; up to 128 characters).", nameof(reference));
        }
        return null;
    }
}
