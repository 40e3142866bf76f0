using System.Net;

namespace ZstdContainers.Registry;

/// <summary>
/// Where a registry name ("host[:port]" as the SDK passes it) is reached: the API host, whether plain
/// HTTP is allowed, and the names its credentials may be stored under.
/// </summary>
internal sealed class RegistryEndpoint
{
    public const string InsecureRegistriesVariable = "DOTNET_CONTAINER_INSECURE_REGISTRIES";
    public const string DockerHubApiHost = "registry-1.docker.io";
    public const string DockerHubLegacyServerUrl = "https://index.docker.io/v1/";

    private static readonly string[] DockerHubNames = ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"];

    private RegistryEndpoint(string registry, string host, string apiAuthority, bool isDockerHub, bool isLoopback, bool isInsecure)
    {
        Registry = registry;
        Host = host;
        ApiAuthority = apiAuthority;
        IsDockerHub = isDockerHub;
        IsLoopback = isLoopback;
        IsInsecure = isInsecure;
    }

    /// <summary>The name as given, e.g. "127.0.0.1:5077", "docker.io".</summary>
    public string Registry { get; }

    /// <summary>The host part without port (IPv6 literals keep their brackets).</summary>
    public string Host { get; }

    /// <summary>host[:port] used in request URIs ("registry-1.docker.io" for Docker Hub).</summary>
    public string ApiAuthority { get; }

    /// <summary>The host of <see cref="ApiAuthority"/>.</summary>
    public string ApiHost { get; private init; } = string.Empty;

    /// <summary>The explicit port of <see cref="ApiAuthority"/>, if any.</summary>
    public int? ApiPort { get; private init; }

    /// <summary>Whether a URL points at the registry's API host (rather than a token service or storage).</summary>
    public bool IsApiUri(Uri uri) =>
        string.Equals(uri.Host, ApiHost, StringComparison.OrdinalIgnoreCase)
        && (ApiPort is { } port ? uri.Port == port : uri.IsDefaultPort);

    /// <summary>"/v2/…" for the registry's own URLs, scheme://host/path for others; never the query (it can carry signatures).</summary>
    public string Describe(Uri uri) => IsApiUri(uri) ? uri.AbsolutePath : RegistryAuthenticator.Describe(uri);

    public bool IsDockerHub { get; }

    public bool IsLoopback { get; }

    /// <summary>Plain HTTP allowed (and, should it turn out to speak TLS, its certificate is not checked).</summary>
    public bool IsInsecure { get; }

    /// <summary>What docker writes on a credential helper's stdin for this registry.</summary>
    public string CredentialHelperServerUrl => IsDockerHub ? DockerHubLegacyServerUrl : Registry;

    public static RegistryEndpoint Create(string registry, IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var name = registry.Trim().TrimEnd('/');
        if (name.Length == 0 || name.Contains('/') || name.Contains('@') || name.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"'{registry}' is not a registry name (host[:port]).", nameof(registry));
        }

        var (host, port) = SplitHostPort(name);
        var isDockerHub = DockerHubNames.Contains(host, StringComparer.OrdinalIgnoreCase) && port is null;
        var isLoopback = IsLoopbackHost(host);
        environment.TryGetValue(InsecureRegistriesVariable, out var list);
        var isInsecure = isLoopback || IsListedInsecure(name, list);
        var authority = isDockerHub ? DockerHubApiHost : name.ToLowerInvariant();
        return new RegistryEndpoint(name, host, authority, isDockerHub, isLoopback, isInsecure)
        {
            ApiHost = isDockerHub ? DockerHubApiHost : host.ToLowerInvariant(),
            ApiPort = port,
        };
    }

    /// <summary>
    /// The SDK's rule: the variable lists full registry names (host[:port]), compared case-insensitively;
    /// entries are separated by commas (documented) or semicolons (what the SDK splits on), spaces ignored.
    /// A scheme or trailing slash written by habit is tolerated.
    /// </summary>
    internal static bool IsListedInsecure(string registry, string? list)
    {
        if (string.IsNullOrWhiteSpace(list))
        {
            return false;
        }
        foreach (var raw in list.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (string.Equals(NormalizeServerName(raw), registry, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Docker's normalisation of a config.json key: "https://host:5000/v1/" → "host:5000".
    /// </summary>
    internal static string NormalizeServerName(string key)
    {
        var s = key.Trim();
        if (s.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            s = s["https://".Length..];
        }
        else if (s.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            s = s["http://".Length..];
        }
        var slash = s.IndexOf('/');
        return slash >= 0 ? s[..slash] : s;
    }

    /// <summary>Whether a config.json key (auths, credHelpers) stands for this registry.</summary>
    public bool MatchesServerKey(string key)
    {
        var normalized = NormalizeServerName(key);
        if (string.Equals(normalized, Registry, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return IsDockerHub && DockerHubNames.Contains(normalized, StringComparer.OrdinalIgnoreCase);
    }

    internal static (string Host, int? Port) SplitHostPort(string name)
    {
        if (name.StartsWith('['))
        {
            var close = name.IndexOf(']');
            if (close < 0)
            {
                throw new ArgumentException($"'{name}' is not a registry name (host[:port]).", nameof(name));
            }
            var host = name[..(close + 1)];
            var rest = name[(close + 1)..];
            return (host, rest.StartsWith(':') && int.TryParse(rest[1..], out var p6) ? p6 : null);
        }
        var colon = name.LastIndexOf(':');
        if (colon > 0 && name.IndexOf(':') == colon && int.TryParse(name[(colon + 1)..], out var port))
        {
            return (name[..colon], port);
        }
        return (name, null);
    }

    internal static bool IsLoopbackHost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return IPAddress.TryParse(bare, out var ip) && IPAddress.IsLoopback(ip);
    }

    public override string ToString() => Registry;
}
