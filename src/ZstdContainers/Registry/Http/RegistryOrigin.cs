namespace ZstdContainers.Registry;

/// <summary>
/// The registry itself as an origin: its API host and port on the scheme it is spoken to (either scheme when it
/// is insecure). Credentials go only there, and only its own responses may ask for them.
/// </summary>
internal sealed class RegistryOrigin(RegistryEndpoint endpoint, Func<string?> scheme)
{
    public string Registry => endpoint.Registry;

    public bool IsInsecure => endpoint.IsInsecure;

    /// <summary>The scheme the registry is spoken to over, once decided (https for a registry that is not insecure).</summary>
    public string? Scheme => scheme();

    public bool Contains(Uri uri) =>
        endpoint.IsApiUri(uri)
        && (endpoint.IsInsecure || string.Equals(uri.Scheme, scheme() ?? Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase));

    /// <summary>"/v2/…" for the registry's own URLs, scheme://host/path for others; never the query (it can carry signatures).</summary>
    public string Describe(Uri uri) => endpoint.Describe(uri);

    /// <summary>A URL the registry gave us (an upload location, a redirect) may not take a TLS registry's traffic to plain HTTP.</summary>
    public void RefuseDowngrade(Uri uri, string what)
    {
        if (!endpoint.IsInsecure && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new ZstdContainersException(
                ErrorCodes.InsecureSchemeDowngrade,
                $"Registry '{Registry}' is spoken to over HTTPS but sent {what} on plain HTTP ({RegistryAuthenticator.Describe(uri)}); " +
                "the image and credentials are not sent in clear text. Fix the registry's (or its TLS proxy's) external URL so it answers with https:// locations, " +
                $"or, if the registry really is plain HTTP, add '{Registry}' to DOTNET_CONTAINER_INSECURE_REGISTRIES.");
        }
    }
}
