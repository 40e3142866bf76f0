using System.Net;

namespace ZstdContainers.Registry;

/// <summary>
/// Authenticates requests to the registry: the known Authorization goes on requests to the registry's own origin
/// only (never on an upload location on another host); a 401 from the registry (or a 403 with a token that may be
/// stale) is answered once through <see cref="RegistryAuthenticator"/>, and a 401 from any other host is refused
/// (ZSTDC3010) rather than answered, as its challenge could name any realm.
/// </summary>
internal sealed class AuthHandler(RegistryOrigin origin, RegistryAuthenticator auth) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var attempt = request.Get(RegistryRequestOptions.Attempt) ?? throw new InvalidOperationException("A registry request needs its attempt.");
        var scopes = request.Get(RegistryRequestOptions.Scopes) ?? [];
        origin.RefuseDowngrade(request.RequestUri!, "an upload location");
        var authorization = origin.Contains(request.RequestUri!) ? await auth.GetAuthorizationAsync(scopes, attempt).ConfigureAwait(false) : null;
        request.Headers.Authorization = authorization;

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var answeredBy = request.Get(RegistryRequestOptions.AnsweredBy) ?? request.RequestUri!;
        RefuseForeignChallenge(request, response, answeredBy);
        if (response.StatusCode == HttpStatusCode.Unauthorized
            || (response.StatusCode == HttpStatusCode.Forbidden && authorization?.Scheme == "Bearer" && origin.Contains(answeredBy)))
        {
            var challenge = AuthChallenge.FromResponse(response)
                ?? (response.StatusCode == HttpStatusCode.Forbidden ? auth.KnownChallenge : null);
            if (challenge is not null
                && await auth.AuthenticateAsync(challenge, scopes, authorization, attempt).ConfigureAwait(false) is { } next)
            {
                response.Dispose();
                var again = request.CopyTo(request.RequestUri!);
                again.Headers.Authorization = next;
                response = await base.SendAsync(again, cancellationToken).ConfigureAwait(false);
                RefuseForeignChallenge(again, response, again.Get(RegistryRequestOptions.AnsweredBy) ?? again.RequestUri!);
            }
        }
        return response;
    }

    private void RefuseForeignChallenge(HttpRequestMessage request, HttpResponseMessage response, Uri answeredBy)
    {
        if (response.StatusCode != HttpStatusCode.Unauthorized || origin.Contains(answeredBy))
        {
            return;
        }
        response.Dispose();
        throw new ZstdContainersException(
            ErrorCodes.UntrustedAuthChallenge,
            $"Registry '{origin.Registry}': {request.Method} {origin.Describe(answeredBy)} (not the registry itself) answered 401 and asked for credentials; " +
            "the registry's credentials go only to the registry. Check the registry's storage or proxy configuration (signed redirect URLs need no credentials).");
    }
}
