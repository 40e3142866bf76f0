namespace ZstdContainers.Registry;

/// <summary>Which token services (Bearer realms) a registry may send us to, and whether credentials may go there.</summary>
internal static class TokenRealmPolicy
{
    /// <summary>
    /// Where a Bearer challenge may send us, and whether credentials may go there: never a scheme below the
    /// registry's own (https registry, http realm), never a loopback listener for a registry that is not on
    /// loopback, and credentials to another host only over https.
    /// </summary>
    public static (Uri Realm, bool CredentialsAllowed) Check(AuthChallenge challenge, RegistryEndpoint endpoint, string? registryScheme, CredentialLookup lookup)
    {
        if (!Uri.TryCreate(challenge.Realm, UriKind.Absolute, out var realm) || (realm.Scheme != Uri.UriSchemeHttps && realm.Scheme != Uri.UriSchemeHttp))
        {
            throw UnsafeRealm(endpoint, $"its Bearer challenge names a token service that is not an http(s) URL ('{challenge.Realm}')", lookup);
        }
        registryScheme ??= Uri.UriSchemeHttps;
        var realmHost = realm.IdnHost.TrimEnd('.');
        var realmIsLoopback = RegistryEndpoint.IsLoopbackHost(realmHost) || realmHost.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
        var sameHost = string.Equals(realmHost, endpoint.ApiHost.Trim('[', ']'), StringComparison.OrdinalIgnoreCase)
            || (realmIsLoopback && endpoint.IsLoopback);
        if (realm.Scheme == Uri.UriSchemeHttp && registryScheme == Uri.UriSchemeHttps && !(endpoint.IsInsecure && sameHost))
        {
            throw UnsafeRealm(endpoint,
                $"its token service {RegistryAuthenticator.Describe(realm)} is plain HTTP while the registry is spoken to over HTTPS; credentials are not sent in clear text",
                lookup);
        }
        if (realmIsLoopback && !endpoint.IsLoopback)
        {
            throw UnsafeRealm(endpoint,
                $"its token service {RegistryAuthenticator.Describe(realm)} is on this machine's loopback while the registry is not; credentials are not sent to a local listener on a remote registry's word",
                lookup);
        }
        return (realm, realm.Scheme == Uri.UriSchemeHttps || sameHost);
    }

    private static ZstdContainersException UnsafeRealm(RegistryEndpoint endpoint, string what, CredentialLookup lookup) => new(
        ErrorCodes.UnsafeTokenRealm,
        $"Registry '{endpoint.Registry}' cannot be authenticated: {what}. Credentials: {lookup.Describe()}. " +
        "Check the registry's token service configuration (its realm should be an https:// URL); a registry that is plain HTTP on purpose belongs in DOTNET_CONTAINER_INSECURE_REGISTRIES.");
}
