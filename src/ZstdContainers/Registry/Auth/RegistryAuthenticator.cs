using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace ZstdContainers.Registry;

/// <summary>
/// Answers a registry's WWW-Authenticate challenges: Basic with the credential, or Bearer with a token from
/// the challenge's realm (fetched with the credential, or anonymously), cached per scope until it expires.
/// Safe to share between concurrent requests.
/// </summary>
internal sealed class RegistryAuthenticator : IDisposable
{
    private const string ClientId = "zstdcontainers";
    private const long MaxTokenResponseBytes = 1 << 20;

    private readonly RegistryEndpoint _endpoint;
    private readonly RegistryAccess _access;
    private readonly CredentialResolver _resolver;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly IBuildLog _log;
    private readonly Func<string?> _registryScheme;
    private readonly SemaphoreSlim _credentialGate = new(1, 1);
    private readonly SemaphoreSlim _tokenGate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CachedToken> _tokens = new(StringComparer.Ordinal);
    private CredentialLookup? _lookup;
    private AuthChallenge? _challenge;

    /// <param name="registryScheme">The scheme the registry is spoken to over, once decided (a realm may not downgrade it).</param>
    public RegistryAuthenticator(RegistryEndpoint endpoint, RegistryAccess access, CredentialResolver resolver, HttpClient http, TimeProvider time, IBuildLog log, Func<string?> registryScheme)
    {
        _registryScheme = registryScheme;
        _endpoint = endpoint;
        _access = access;
        _resolver = resolver;
        _http = http;
        _time = time;
        _log = log;
    }

    private sealed record CachedToken(AuthenticationHeaderValue Header, DateTimeOffset RefreshAt);

    public AuthChallenge? KnownChallenge
    {
        get
        {
            lock (_lock)
            {
                return _challenge;
            }
        }
    }

    /// <summary>Remembers how the registry wants to be authenticated, so later requests authenticate up front.</summary>
    public void Remember(AuthChallenge challenge)
    {
        if (!challenge.IsBearer && !challenge.IsBasic)
        {
            return;
        }
        lock (_lock)
        {
            _challenge = challenge;
        }
    }

    /// <summary>The scopes a request needs: <c>repository:NAME:pull[,push]</c>, plus pull on a mount source.</summary>
    public static IReadOnlyList<string> ScopesFor(RegistryAccess access, string repository, string? mountFrom = null)
    {
        var scopes = new List<string> { $"repository:{repository}:{(access == RegistryAccess.Push ? "pull,push" : "pull")}" };
        if (mountFrom is not null && mountFrom != repository)
        {
            scopes.Add($"repository:{mountFrom}:pull");
        }
        return scopes;
    }

    /// <summary>The Authorization to send before any challenge of this request: known scheme, cached or fresh token.</summary>
    public async Task<AuthenticationHeaderValue?> GetAuthorizationAsync(IReadOnlyList<string> scopes, RequestAttempt attempt)
    {
        var challenge = KnownChallenge;
        if (challenge is null)
        {
            return null;
        }
        if (challenge.IsBasic)
        {
            var lookup = await GetCredentialsAsync(attempt.Token).ConfigureAwait(false);
            return lookup.Credential?.BasicHeader();
        }
        return await GetTokenAsync(challenge, scopes, failed: null, attempt).ConfigureAwait(false);
    }

    /// <summary>
    /// Answers a 401's challenge. <paramref name="failed"/> is what the rejected request carried: a cached token
    /// equal to it is not offered again. Null when there is nothing new to try.
    /// </summary>
    public async Task<AuthenticationHeaderValue?> AuthenticateAsync(AuthChallenge challenge, IReadOnlyList<string> scopes, AuthenticationHeaderValue? failed, RequestAttempt attempt)
    {
        Remember(challenge);
        if (challenge.IsBasic)
        {
            var lookup = await GetCredentialsAsync(attempt.Token).ConfigureAwait(false);
            var header = lookup.Credential?.BasicHeader();
            return header is null || SameHeader(header, failed) ? null : header;
        }
        if (challenge.IsBearer)
        {
            return await GetTokenAsync(challenge, scopes, failed, attempt).ConfigureAwait(false);
        }
        return null;
    }

    public async Task<CredentialLookup> GetCredentialsAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _lookup) is { } cached)
        {
            return cached;
        }
        await _credentialGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_lookup is null)
            {
                Volatile.Write(ref _lookup, await _resolver.ResolveAsync(cancellationToken).ConfigureAwait(false));
            }
            return _lookup!;
        }
        finally
        {
            _credentialGate.Release();
        }
    }

    private async Task<AuthenticationHeaderValue> GetTokenAsync(AuthChallenge challenge, IReadOnlyList<string> scopes, AuthenticationHeaderValue? failed, RequestAttempt attempt)
    {
        var effectiveScopes = scopes.Count > 0
            ? scopes
            : (challenge.Scope?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? []);
        var key = challenge.Realm + "|" + challenge.Service + "|" + string.Join(' ', effectiveScopes);

        if (TryGetCached(key, failed) is { } hit)
        {
            return hit;
        }
        await _tokenGate.WaitAsync(attempt.Token).ConfigureAwait(false);
        try
        {
            // Another request may have fetched it while this one waited.
            if (TryGetCached(key, failed) is { } fetched)
            {
                return fetched;
            }
            var lookup = await GetCredentialsAsync(attempt.Token).ConfigureAwait(false);
            var token = await FetchTokenAsync(challenge, effectiveScopes, lookup, attempt).ConfigureAwait(false);
            lock (_lock)
            {
                _tokens[key] = token;
            }
            return token.Header;
        }
        finally
        {
            _tokenGate.Release();
        }
    }

    private AuthenticationHeaderValue? TryGetCached(string key, AuthenticationHeaderValue? failed)
    {
        lock (_lock)
        {
            if (_tokens.TryGetValue(key, out var cached)
                && cached.RefreshAt > _time.GetUtcNow()
                && !SameHeader(cached.Header, failed))
            {
                return cached.Header;
            }
            return null;
        }
    }

    private static bool SameHeader(AuthenticationHeaderValue a, AuthenticationHeaderValue? b) =>
        b is not null && string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && a.Parameter == b.Parameter;

    private async Task<CachedToken> FetchTokenAsync(AuthChallenge challenge, IReadOnlyList<string> scopes, CredentialLookup lookup, RequestAttempt attempt)
    {
        var (realm, credentialsAllowed) = TokenRealmPolicy.Check(challenge, _endpoint, _registryScheme(), lookup);
        var credential = credentialsAllowed ? lookup.Credential : null;
        if (lookup.Credential is not null && credential is null)
        {
            _log.Detail($"Registry '{_endpoint.Registry}': the token service {Describe(realm)} is plain HTTP on another host; asking it anonymously, without {lookup.Credential.Source}.");
        }
        var scopeText = string.Join(' ', scopes);

        using var response = await RequestTokenAsync(realm, challenge.Service, scopes, credential, attempt).ConfigureAwait(false);
        return await ReadTokenAsync(response, realm, scopeText, lookup, attempt).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> RequestTokenAsync(Uri realm, string? service, IReadOnlyList<string> scopes, RegistryCredential? credential, RequestAttempt attempt)
    {
        HttpRequestMessage request;
        if (credential?.IdentityToken is { } refreshToken)
        {
            // docker's OAuth2 flow for identity tokens (ACR, …): POST a refresh_token grant.
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"),
                new("refresh_token", refreshToken),
                new("client_id", ClientId),
            };
            if (!string.IsNullOrEmpty(service))
            {
                form.Add(new("service", service));
            }
            if (scopes.Count > 0)
            {
                form.Add(new("scope", string.Join(' ', scopes)));
            }
            request = new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(form) };
        }
        else
        {
            var query = new List<string>();
            if (!string.IsNullOrEmpty(service))
            {
                query.Add("service=" + Uri.EscapeDataString(service));
            }
            foreach (var scope in scopes)
            {
                query.Add("scope=" + Uri.EscapeDataString(scope));
            }
            if (credential?.HasBasic == true)
            {
                query.Add("account=" + Uri.EscapeDataString(credential.Username!));
            }
            var uri = realm.ToString();
            if (query.Count > 0)
            {
                uri += (realm.Query.Length > 0 ? "&" : "?") + string.Join('&', query);
            }
            request = new HttpRequestMessage(HttpMethod.Get, new Uri(uri));
            if (credential?.BasicHeader() is { } basic)
            {
                request.Headers.Authorization = basic;
            }
        }

        attempt.Request = $"{request.Method} {Describe(realm)}";
        using (request)
        {
            var started = _time.GetTimestamp();
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
            _log.Detail($"{request.Method} {Describe(realm)} (token for '{string.Join(' ', scopes)}') -> {(int)response.StatusCode} ({_time.GetElapsedTime(started).TotalMilliseconds:0} ms)");
            return response;
        }
    }

    private async Task<CachedToken> ReadTokenAsync(HttpResponseMessage response, Uri realm, string scopeText, CredentialLookup lookup, RequestAttempt attempt)
    {
        var request = $"{response.RequestMessage?.Method} {Describe(realm)}";
        if (!response.IsSuccessStatusCode)
        {
            var body = await HttpBodies.ReadErrorBodyAsync(response, attempt.Token).ConfigureAwait(false);
            var detail = RegistryErrors.DescribeBody(body, response.Content.Headers.ContentType?.MediaType);
            if (RetryPolicy.IsRetryableStatus(response.StatusCode))
            {
                throw new RetryableStatusException(request, response.StatusCode, detail, RetryPolicy.RetryAfter(response, _time.GetUtcNow()));
            }
            throw Failure(
                $"the token service {request} returned {RegistryErrors.Status(response.StatusCode)}{RegistryErrors.Suffix(detail)} for scope '{scopeText}'",
                lookup);
        }

        var json = await HttpBodies.ReadBoundedAsync(
            response.Content, MaxTokenResponseBytes, attempt,
            size => Failure($"the token service {request} sent a {size}-byte answer, too large to be a token", lookup)).ConfigureAwait(false);
        var (token, lifetime) = TokenAnswer.Parse(json);
        if (string.IsNullOrEmpty(token))
        {
            throw Failure($"the token service {request} answered without a token", lookup);
        }

        // Refresh a little before the registry would start refusing it.
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(30).Ticks, lifetime.Ticks / 4));
        _log.Detail($"Registry '{_endpoint.Registry}': got a token for '{scopeText}', valid {lifetime.TotalSeconds:0} s.");
        return new CachedToken(new AuthenticationHeaderValue("Bearer", token), _time.GetUtcNow() + lifetime - margin);
    }

    /// <summary>scheme://host/path of a URL: never its query (it can carry signatures).</summary>
    public static string Describe(Uri uri) => uri.GetLeftPart(UriPartial.Path);

    /// <summary>The coded failure for a registry that keeps refusing us; names the credential source, never the secret.</summary>
    public ZstdContainersException Failure(string what, CredentialLookup? lookup)
    {
        var accessText = _access == RegistryAccess.Push ? "push" : "pull";
        string hint;
        string source;
        if (lookup?.Credential is { } credential)
        {
            source = credential.Source;
            hint = $"Check that these credentials are valid and allow {accessText} access to the repository; renew them (for example 'docker login {_endpoint.Registry}') or correct {credential.Source}.";
        }
        else
        {
            source = lookup?.Describe() ?? "none";
            var (user, pass) = CredentialResolver.EnvironmentPairs(_access)[0];
            hint = $"If the repository is private (or does not exist), log in with 'docker login {_endpoint.Registry}' or set {user} and {pass}.";
        }
        return new ZstdContainersException(
            ErrorCodes.AuthenticationFailed,
            $"Authentication to registry '{_endpoint.Registry}' failed: {what}. Credentials: {source}. {hint}");
    }

    public void Dispose()
    {
        _credentialGate.Dispose();
        _tokenGate.Dispose();
    }
}
