using System.Text;
using System.Text.Json;

namespace ZstdContainers.Registry;

/// <summary>
/// Finds the credential for a registry the way the SDK does: the environment variables that apply to this access
/// first, then docker's config.json (credHelpers, auths, credsStore), then podman's auth files, whose entries
/// apply only to the registry they are keyed by.
/// </summary>
internal sealed class CredentialResolver
{
    internal const string PushUser = "DOTNET_CONTAINER_PUSH_REGISTRY_UNAME";
    internal const string PushPass = "DOTNET_CONTAINER_PUSH_REGISTRY_PWORD";
    internal const string PullUser = "DOTNET_CONTAINER_PULL_REGISTRY_UNAME";
    internal const string PullPass = "DOTNET_CONTAINER_PULL_REGISTRY_PWORD";
    internal const string User = "DOTNET_CONTAINER_REGISTRY_UNAME";
    internal const string Pass = "DOTNET_CONTAINER_REGISTRY_PWORD";
    internal const string LegacyUser = "SDK_CONTAINER_REGISTRY_UNAME";
    internal const string LegacyPass = "SDK_CONTAINER_REGISTRY_PWORD";

    private const string TokenUsername = "<token>";

    private readonly RegistryEndpoint _endpoint;
    private readonly RegistryAccess _access;
    private readonly IReadOnlyDictionary<string, string?> _environment;
    private readonly IBuildLog _log;
    private readonly TimeSpan _helperTimeout;

    public CredentialResolver(RegistryEndpoint endpoint, RegistryAccess access, IReadOnlyDictionary<string, string?> environment, IBuildLog log, TimeSpan helperTimeout)
    {
        _endpoint = endpoint;
        _access = access;
        _environment = environment;
        _log = log;
        _helperTimeout = helperTimeout;
    }

    /// <summary>
    /// The variable pairs for this access, in the order they are tried, exactly as the SDK scopes them: the output
    /// registry gets PUSH, then DOTNET_CONTAINER_REGISTRY_*, then SDK_CONTAINER_REGISTRY_*; a base registry gets
    /// PULL only, unless it is the output registry too (then PULL, then the two shared pairs).
    /// </summary>
    internal static IReadOnlyList<(string User, string Password)> EnvironmentPairs(RegistryAccess access) => access switch
    {
        RegistryAccess.Push => [(PushUser, PushPass), (User, Pass), (LegacyUser, LegacyPass)],
        RegistryAccess.PullFromOutput => [(PullUser, PullPass), (User, Pass), (LegacyUser, LegacyPass)],
        _ => [(PullUser, PullPass)],
    };

    /// <summary>The config files to read, in order, with the label used in messages.</summary>
    internal IReadOnlyList<(string Path, string Label)> ConfigFiles()
    {
        var files = new List<(string, string)>();
        var dockerConfig = Get("DOCKER_CONFIG");
        if (!string.IsNullOrEmpty(dockerConfig))
        {
            files.Add((Path.Combine(dockerConfig, "config.json"), "docker config.json"));
        }
        else if (Get("HOME") is { Length: > 0 } home)
        {
            files.Add((Path.Combine(home, ".docker", "config.json"), "docker config.json"));
        }
        if (Get("REGISTRY_AUTH_FILE") is { Length: > 0 } authFile)
        {
            files.Add((authFile, "REGISTRY_AUTH_FILE"));
        }
        if (Get("XDG_RUNTIME_DIR") is { Length: > 0 } runtimeDir)
        {
            files.Add((Path.Combine(runtimeDir, "containers", "auth.json"), "containers auth.json"));
        }
        return files;
    }

    public async Task<CredentialLookup> ResolveAsync(CancellationToken cancellationToken)
    {
        var checkedSources = new List<string>();

        foreach (var (userVar, passVar) in EnvironmentPairs(_access))
        {
            var user = Get(userVar);
            var pass = Get(passVar);
            var name = userVar + "/_PWORD";
            checkedSources.Add(name);
            if (!string.IsNullOrEmpty(user) && !string.IsNullOrEmpty(pass))
            {
                return Found(new RegistryCredential(name, user, pass, identityToken: null), checkedSources);
            }
            if (!string.IsNullOrEmpty(user) || !string.IsNullOrEmpty(pass))
            {
                _log.Detail($"Registry '{_endpoint.Registry}': {userVar} and {passVar} must both be set; ignoring the one that is.");
            }
        }

        foreach (var (path, label) in ConfigFiles())
        {
            if (!File.Exists(path))
            {
                continue;
            }
            checkedSources.Add(path);
            var credential = await FromConfigFileAsync(path, label, cancellationToken).ConfigureAwait(false);
            if (credential is not null)
            {
                return Found(credential, checkedSources);
            }
        }

        _log.Detail($"Registry '{_endpoint.Registry}': no credentials found; continuing anonymously.");
        return new CredentialLookup(null, checkedSources);
    }

    private CredentialLookup Found(RegistryCredential credential, List<string> checkedSources)
    {
        _log.Detail($"Registry '{_endpoint.Registry}': using credentials from {credential.Source}.");
        return new CredentialLookup(credential, checkedSources);
    }

    internal async Task<RegistryCredential?> FromConfigFileAsync(string path, string label, CancellationToken cancellationToken)
    {
        JsonDocument doc;
        try
        {
            var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            _log.Warning(ErrorCodes.CredentialHelperFailed, $"Could not read '{path}' ({ex.GetType().Name}); its credentials are ignored.");
            return null;
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            // 1. credHelpers: a helper for this very registry.
            if (root.TryGetProperty("credHelpers", out var helpers) && helpers.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in helpers.EnumerateObject())
                {
                    if (_endpoint.MatchesServerKey(entry.Name) && entry.Value.ValueKind == JsonValueKind.String && entry.Value.GetString() is { Length: > 0 } helper)
                    {
                        var fromHelper = await FromHelperAsync(helper, $"{label} credHelpers '{helper}'", cancellationToken).ConfigureAwait(false);
                        if (fromHelper is not null)
                        {
                            return fromHelper;
                        }
                        break;
                    }
                }
            }

            // 2. auths: credentials stored in the file (exact key first, then docker's host normalisation).
            if (root.TryGetProperty("auths", out var auths) && auths.ValueKind == JsonValueKind.Object)
            {
                var candidates = auths.EnumerateObject()
                    .Where(e => _endpoint.MatchesServerKey(e.Name))
                    .OrderBy(e => string.Equals(e.Name, _endpoint.Registry, StringComparison.OrdinalIgnoreCase) ? 0 : 1);
                foreach (var entry in candidates)
                {
                    var credential = FromAuthEntry(entry.Value, $"{label} auths '{entry.Name}'", path);
                    if (credential is not null)
                    {
                        return credential;
                    }
                }
            }

            // 3. credsStore: the default helper for every registry.
            if (root.TryGetProperty("credsStore", out var store) && store.ValueKind == JsonValueKind.String && store.GetString() is { Length: > 0 } storeName)
            {
                return await FromHelperAsync(storeName, $"{label} credsStore '{storeName}'", cancellationToken).ConfigureAwait(false);
            }
        }
        return null;
    }

    internal RegistryCredential? FromAuthEntry(JsonElement entry, string source, string path)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        string? user = null, pass = null, identityToken = null;
        if (entry.TryGetProperty("auth", out var auth) && auth.ValueKind == JsonValueKind.String && auth.GetString() is { Length: > 0 } encoded)
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded.Trim()));
                var colon = decoded.IndexOf(':');
                if (colon > 0)
                {
                    user = decoded[..colon];
                    pass = decoded[(colon + 1)..];
                }
            }
            catch (FormatException)
            {
                _log.Warning(ErrorCodes.CredentialHelperFailed, $"The 'auth' value of {source} in '{path}' is not base64 of user:password; it is ignored.");
            }
        }
        if (user is null && entry.TryGetProperty("username", out var u) && u.ValueKind == JsonValueKind.String
            && entry.TryGetProperty("password", out var p) && p.ValueKind == JsonValueKind.String)
        {
            user = u.GetString();
            pass = p.GetString();
        }
        if (entry.TryGetProperty("identitytoken", out var it) && it.ValueKind == JsonValueKind.String && it.GetString() is { Length: > 0 } token)
        {
            identityToken = token;
        }
        if (identityToken is null && (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(pass)))
        {
            return null;
        }
        return new RegistryCredential(source, user, pass, identityToken);
    }

    private async Task<RegistryCredential?> FromHelperAsync(string helper, string source, CancellationToken cancellationToken)
    {
        var result = await CredentialHelper.GetAsync(helper, _endpoint.CredentialHelperServerUrl, _environment, _helperTimeout, cancellationToken).ConfigureAwait(false);
        switch (result.Outcome)
        {
            case CredentialHelper.Outcome.NotInstalled:
                _log.Warning(
                    ErrorCodes.CredentialHelperFailed,
                    $"{source} names '{CredentialHelper.ExecutableName(helper)}', which is not on PATH; continuing without it for '{_endpoint.Registry}'.");
                return null;
            case CredentialHelper.Outcome.NotFound:
                _log.Detail($"Registry '{_endpoint.Registry}': {source} has no credentials for it.");
                return null;
            default:
                return result.Username == TokenUsername
                    ? new RegistryCredential(source, null, null, result.Secret)
                    : new RegistryCredential(source, result.Username, result.Secret, null);
        }
    }

    private string? Get(string name) => _environment.TryGetValue(name, out var value) ? value : null;
}
