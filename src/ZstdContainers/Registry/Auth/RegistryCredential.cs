using System.Net.Http.Headers;
using System.Text;

namespace ZstdContainers.Registry;

/// <summary>
/// A credential and where it came from. Deliberately a class, not a record: a generated ToString
/// would print the secret. Only <see cref="Source"/> may be shown to anyone.
/// </summary>
internal sealed class RegistryCredential
{
    public RegistryCredential(string source, string? username, string? password, string? identityToken)
    {
        Source = source;
        Username = username;
        Password = password;
        IdentityToken = identityToken;
    }

    /// <summary>Names the source, e.g. "DOTNET_CONTAINER_PUSH_REGISTRY_UNAME/_PWORD" or "docker config.json credHelpers 'ecr-login'".</summary>
    public string Source { get; }

    public string? Username { get; }

    public string? Password { get; }

    /// <summary>An OAuth2 refresh token (docker's "identitytoken", or a helper's Secret with Username "&lt;token&gt;").</summary>
    public string? IdentityToken { get; }

    public bool HasBasic => !string.IsNullOrEmpty(Username) && !string.IsNullOrEmpty(Password);

    public AuthenticationHeaderValue? BasicHeader() =>
        HasBasic ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Username + ":" + Password))) : null;

    /// <summary>Every secret string this credential holds, for tests and for scrubbing text.</summary>
    public IEnumerable<string> Secrets()
    {
        if (!string.IsNullOrEmpty(Password))
        {
            yield return Password;
        }
        if (!string.IsNullOrEmpty(IdentityToken))
        {
            yield return IdentityToken;
        }
    }

    public override string ToString() => Source;
}

/// <summary>The outcome of looking for credentials: the credential (or none) and what was looked at.</summary>
internal sealed class CredentialLookup
{
    public CredentialLookup(RegistryCredential? credential, IReadOnlyList<string> sourcesChecked)
    {
        Credential = credential;
        SourcesChecked = sourcesChecked;
    }

    public RegistryCredential? Credential { get; }

    public IReadOnlyList<string> SourcesChecked { get; }

    /// <summary>For messages: the source used, or "no credentials found (checked …)".</summary>
    public string Describe() =>
        Credential is not null
            ? Credential.Source
            : "no credentials found (checked " + string.Join(", ", SourcesChecked) + ")";
}
