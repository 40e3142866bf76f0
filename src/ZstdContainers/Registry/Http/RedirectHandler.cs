using System.Net;

namespace ZstdContainers.Registry;

/// <summary>
/// Follows redirects of GET and HEAD by hand (the transport's AllowAutoRedirect is off): at most five hops, the
/// Authorization kept only while the target is the registry itself (storage behind a redirect authenticates by a
/// signed URL), and never from https down to http unless the registry is insecure. Records which URL answered.
/// </summary>
internal sealed class RedirectHandler(RegistryOrigin origin, IBuildLog log, TimeProvider time) : DelegatingHandler
{
    public const int MaxRedirects = 5;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var attempt = request.Get(RegistryRequestOptions.Attempt);
        var follow = request.Method == HttpMethod.Get || request.Method == HttpMethod.Head;
        var message = request;
        var uri = request.RequestUri!;
        for (var hop = 0; ; hop++)
        {
            if (attempt is not null)
            {
                attempt.Request = $"{request.Method} {origin.Describe(uri)}";
            }
            var started = time.GetTimestamp();
            var response = await base.SendAsync(message, cancellationToken).ConfigureAwait(false);
            attempt?.Kick();
            log.Detail($"{request.Method} {RegistryAuthenticator.Describe(uri)} -> {(int)response.StatusCode} ({time.GetElapsedTime(started).TotalMilliseconds:0} ms)");

            if (!follow || !IsRedirect(response.StatusCode) || response.Headers.Location is not { } location)
            {
                request.Options.Set(RegistryRequestOptions.AnsweredBy, uri);
                return response;
            }
            response.Dispose();
            if (!ReferenceEquals(message, request))
            {
                message.Dispose();
            }
            if (hop >= MaxRedirects)
            {
                throw new ZstdContainersException(
                    ErrorCodes.RegistryError,
                    $"Registry '{origin.Registry}': {request.Method} {origin.Describe(request.RequestUri!)} was redirected more than {MaxRedirects} times.");
            }
            var next = new Uri(uri, location);
            if (uri.Scheme == Uri.UriSchemeHttps)
            {
                origin.RefuseDowngrade(next, "a redirect");
            }
            log.Detail($"  redirected to {RegistryAuthenticator.Describe(next)}");
            message = request.CopyTo(next);
            if (request.Headers.Authorization is { } authorization && origin.Contains(next))
            {
                message.Headers.Authorization = authorization;
            }
            uri = next;
        }
    }

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
}
