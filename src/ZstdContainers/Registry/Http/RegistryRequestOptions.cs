namespace ZstdContainers.Registry;

/// <summary>What the registry handlers read from a request besides its URL and headers.</summary>
internal static class RegistryRequestOptions
{
    /// <summary>The try of the operation this request belongs to: its no-progress timer and the request it is on.</summary>
    public static readonly HttpRequestOptionsKey<RequestAttempt> Attempt = new("zc.attempt");

    /// <summary>The token scopes the request needs.</summary>
    public static readonly HttpRequestOptionsKey<IReadOnlyList<string>> Scopes = new("zc.scopes");

    /// <summary>Makes the body again when the request is sent again (after a 401).</summary>
    public static readonly HttpRequestOptionsKey<Func<HttpContent>> Content = new("zc.content");

    /// <summary>
    /// True for an upload's body requests: <see cref="RetryHandler"/> leaves their retry to the upload, which asks the
    /// registry where its session stands first.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> RetriedByOperation = new("zc.retried-by-operation");

    /// <summary>Set by <see cref="RedirectHandler"/>: the URL whose response came back (the last redirect's target).</summary>
    public static readonly HttpRequestOptionsKey<Uri> AnsweredBy = new("zc.answered-by");

    public static T? Get<T>(this HttpRequestMessage request, HttpRequestOptionsKey<T> key) =>
        request.Options.TryGetValue(key, out var value) ? value : default;

    /// <summary>
    /// The same request to <paramref name="uri"/>: method, headers other than Authorization, options, and a fresh body
    /// from the content factory (GET and HEAD have none).
    /// </summary>
    public static HttpRequestMessage CopyTo(this HttpRequestMessage request, Uri uri)
    {
        var copy = new HttpRequestMessage(request.Method, uri) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        foreach (var (name, values) in request.Headers)
        {
            if (!name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                copy.Headers.TryAddWithoutValidation(name, values);
            }
        }
        foreach (var (name, value) in request.Options)
        {
            ((IDictionary<string, object?>)copy.Options)[name] = value;
        }
        if (request.Get(Content) is { } content)
        {
            copy.Content = content();
        }
        return copy;
    }
}
