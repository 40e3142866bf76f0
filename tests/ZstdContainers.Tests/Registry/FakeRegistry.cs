using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

/// <summary>
/// An in-memory distribution-spec registry behind an HttpMessageHandler: manifests, blobs (with Range and an
/// optional redirect to "storage"), monolithic and chunked uploads, mounts, Basic or Bearer auth with a token
/// service at https://auth.test/token, and hooks to inject failures.
/// </summary>
internal sealed partial class FakeRegistry : HttpMessageHandler
{
    public const string TokenRealm = "https://auth.test/token";
    public const string StorageHost = "storage.test";

    public enum AuthMode
    {
        None,
        Basic,
        Bearer,
    }

    public sealed record Recorded(string Method, Uri Uri, string? Authorization, IReadOnlyDictionary<string, string> Headers, long BodyLength, string? Body);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, byte[]> _blobs = new();
    private readonly Dictionary<string, (byte[] Content, string MediaType)> _manifests = new();
    private readonly Dictionary<string, MemoryStream> _sessions = new();
    private readonly Dictionary<string, HashSet<string>> _tokens = new();
    private int _nextId;
    private int _inFlightUploads;

    public AuthMode Auth { get; set; } = AuthMode.None;

    public string User { get; set; } = "alice";

    public string Password { get; set; } = "s3cret-Passw0rd!";

    /// <summary>A refresh token accepted by the token service's POST grant.</summary>
    public string? RefreshToken { get; set; }

    /// <summary>Anonymous tokens get pull access (a public repository).</summary>
    public bool AnonymousPull { get; set; }

    public int TokenExpiresIn { get; set; } = 300;

    /// <summary>The token service answers with "access_token" instead of "token".</summary>
    public bool TokenAsAccessToken { get; set; }

    public string Service { get; set; } = "registry.test";

    /// <summary>The realm the registry's Bearer challenges name (the token service answers on host auth.test, either scheme).</summary>
    public string Realm { get; set; } = TokenRealm;

    /// <summary>Writes the token service's JSON answer for an issued token (default: token and expires_in).</summary>
    public Func<string, string>? TokenBody { get; set; }

    public long? ChunkMinLength { get; set; }

    /// <summary>Bodies larger than this get 413 (a proxy's limit).</summary>
    public long? MaxBodyBytes { get; set; }

    /// <summary>Blob GETs are redirected to https://storage.test/… with a signed query.</summary>
    public bool RedirectBlobs { get; set; }

    public bool AllowMount { get; set; } = true;

    /// <summary>Runs first for every request; a non-null response (or an exception) replaces normal handling.</summary>
    public Func<HttpRequestMessage, int, Task<HttpResponseMessage?>>? Intercept { get; set; }

    /// <summary>Requests for which this is true hang until the client gives up on them.</summary>
    public Func<HttpRequestMessage, int, bool>? Stall { get; set; }

    /// <summary>
    /// Makes every <paramref name="method"/> request for <paramref name="path"/> hang (see <see cref="Stall"/>);
    /// the task completes when the first one arrives, so a test can act while it is under way.
    /// </summary>
    public Task StallRequestsTo(HttpMethod method, string path)
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Stall = (request, _) =>
        {
            var hit = request.Method == method && request.RequestUri!.AbsolutePath == path;
            if (hit)
            {
                arrived.TrySetResult();
            }
            return hit;
        };
        return arrived.Task;
    }

    /// <summary>The stalled requests that ended because the client cancelled them.</summary>
    public ConcurrentQueue<Uri> StallsCancelled { get; } = new();

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    public int MaxConcurrentUploads { get; private set; }

    public int UploadDelayMs { get; set; }

    private int _counter;

    public IEnumerable<Recorded> RequestsTo(string pathPart) => Requests.Where(r => r.Uri.AbsolutePath.Contains(pathPart, StringComparison.Ordinal));

    public IEnumerable<Recorded> TokenRequests => Requests.Where(r => r.Uri.Host == "auth.test");

    public void AddBlob(string repository, byte[] content)
    {
        lock (_lock)
        {
            _blobs[repository + "@" + Digest.Of(content)] = content;
        }
    }

    public bool HasBlob(string repository, Digest digest)
    {
        lock (_lock)
        {
            return _blobs.ContainsKey(repository + "@" + digest);
        }
    }

    public byte[] GetBlob(string repository, Digest digest)
    {
        lock (_lock)
        {
            return _blobs[repository + "@" + digest];
        }
    }

    public void AddManifest(string repository, string reference, byte[] content, string mediaType)
    {
        lock (_lock)
        {
            _manifests[repository + ":" + reference] = (content, mediaType);
            _manifests[repository + ":" + Digest.Of(content)] = (content, mediaType);
        }
    }

    public (byte[] Content, string MediaType)? GetManifest(string repository, string reference)
    {
        lock (_lock)
        {
            return _manifests.TryGetValue(repository + ":" + reference, out var m) ? m : null;
        }
    }

    public int OpenSessions
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    public static HttpResponseMessage Respond(HttpStatusCode status, string? body = null, string contentType = "application/json")
    {
        var response = new HttpResponseMessage(status);
        if (body is not null)
        {
            response.Content = new StringContent(body, Encoding.UTF8);
            response.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        return response;
    }

    public static string OciError(string code, string message) =>
        JsonSerializer.Serialize(new { errors = new[] { new { code, message } } });

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _counter);
        byte[] body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue(new Recorded(
            request.Method.Method,
            request.RequestUri!,
            request.Headers.Authorization?.ToString(),
            headers,
            body.Length,
            request.Content is FormUrlEncodedContent ? Encoding.UTF8.GetString(body) : null));

        if (Stall?.Invoke(request, number) == true)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                StallsCancelled.Enqueue(request.RequestUri!);
                throw;
            }
        }
        if (Intercept is not null && await Intercept(request, number) is { } intercepted)
        {
            return intercepted;
        }

        var uri = request.RequestUri!;
        if (uri.Host == "auth.test")
        {
            return Token(request, body);
        }
        if (uri.Host == StorageHost)
        {
            var key = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
            lock (_lock)
            {
                return _blobs.TryGetValue(key, out var stored) ? BlobResponse(request, stored) : Respond(HttpStatusCode.NotFound);
            }
        }
        return await RegistryAsync(request, body, cancellationToken);
    }

    private HttpResponseMessage Token(HttpRequestMessage request, byte[] body)
    {
        Dictionary<string, string> args;
        bool authenticated;
        if (request.Method == HttpMethod.Post)
        {
            args = ParseQuery(Encoding.UTF8.GetString(body));
            authenticated = args.GetValueOrDefault("grant_type") == "refresh_token"
                && RefreshToken is not null && args.GetValueOrDefault("refresh_token") == RefreshToken;
            if (!authenticated)
            {
                return Respond(HttpStatusCode.Unauthorized, "{\"error\":\"invalid_grant\"}");
            }
        }
        else
        {
            args = ParseQuery(request.RequestUri!.Query.TrimStart('?'));
            if (request.Headers.Authorization is { } auth)
            {
                if (auth.Scheme != "Basic" || auth.Parameter != BasicValue(User, Password))
                {
                    return Respond(HttpStatusCode.Unauthorized, OciError("UNAUTHORIZED", "invalid username or password"));
                }
                authenticated = true;
            }
            else
            {
                authenticated = false;
            }
        }

        var requested = request.Method == HttpMethod.Post
            ? (args.GetValueOrDefault("scope") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : ParseQueryAll(request.RequestUri!.Query.TrimStart('?'), "scope");
        var granted = new HashSet<string>();
        foreach (var scope in requested)
        {
            var parts = scope.Split(':');
            if (parts.Length != 3)
            {
                continue;
            }
            foreach (var action in parts[2].Split(','))
            {
                if (authenticated || (AnonymousPull && action == "pull"))
                {
                    granted.Add(parts[1] + ":" + action);
                }
            }
        }
        var token = "tok-" + Guid.NewGuid().ToString("N");
        lock (_lock)
        {
            _tokens[token] = granted;
        }
        var json = TokenBody is not null ? TokenBody(token) : TokenAsAccessToken
            ? JsonSerializer.Serialize(new { access_token = token, expires_in = TokenExpiresIn })
            : JsonSerializer.Serialize(new { token, expires_in = TokenExpiresIn });
        return Respond(HttpStatusCode.OK, json);
    }

    public static string BasicValue(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));

    /// <summary>Forget every issued token (as if they expired server-side).</summary>
    public void RevokeTokens()
    {
        lock (_lock)
        {
            _tokens.Clear();
        }
    }

    private HttpResponseMessage? CheckAuth(HttpRequestMessage request, string? repository, string action, string? mountFrom)
    {
        if (Auth == AuthMode.None)
        {
            return null;
        }
        var header = request.Headers.Authorization;
        if (Auth == AuthMode.Basic)
        {
            if (header?.Scheme == "Basic" && header.Parameter == BasicValue(User, Password))
            {
                return null;
            }
            var basic = Respond(HttpStatusCode.Unauthorized, OciError("UNAUTHORIZED", "authentication required"));
            basic.Headers.TryAddWithoutValidation("WWW-Authenticate", "Basic realm=\"fake\"");
            return basic;
        }

        HashSet<string>? granted = null;
        if (header?.Scheme == "Bearer")
        {
            lock (_lock)
            {
                _tokens.TryGetValue(header.Parameter ?? string.Empty, out granted);
            }
        }
        var needed = repository is null ? [] : new List<string> { repository + ":" + action };
        if (granted is not null && needed.All(granted.Contains))
        {
            return null;
        }
        var scope = repository is null ? string.Empty : $",scope=\"repository:{repository}:{(action == "push" ? "pull,push" : "pull")}\"";
        var response = Respond(HttpStatusCode.Unauthorized, OciError("UNAUTHORIZED", "authentication required"));
        response.Headers.TryAddWithoutValidation("WWW-Authenticate",
            $"Bearer realm=\"{Realm}\",service=\"{Service}\"{scope}{(granted is null ? string.Empty : ",error=\"insufficient_scope\"")}");
        return response;
    }

    public bool TokenAllows(string token, string repositoryAction)
    {
        lock (_lock)
        {
            return _tokens.TryGetValue(token, out var g) && g.Contains(repositoryAction);
        }
    }

    [GeneratedRegex("^/v2/(?<repo>.+)/manifests/(?<ref>[^/]+)$")]
    private static partial Regex ManifestRoute();

    [GeneratedRegex("^/v2/(?<repo>.+)/blobs/uploads/(?<id>[^/]*)$")]
    private static partial Regex UploadRoute();

    [GeneratedRegex("^/v2/(?<repo>.+)/blobs/(?<digest>sha256:[a-f0-9]{64})$")]
    private static partial Regex BlobRoute();

    private async Task<HttpResponseMessage> RegistryAsync(HttpRequestMessage request, byte[] body, CancellationToken ct)
    {
        var uri = request.RequestUri!;
        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        var query = ParseQuery(uri.Query.TrimStart('?'));
        var method = request.Method.Method;

        if (path == "/v2/")
        {
            return CheckAuth(request, null, "pull", null) ?? Respond(HttpStatusCode.OK, "{}");
        }

        if (ManifestRoute().Match(path) is { Success: true } m)
        {
            var repo = m.Groups["repo"].Value;
            var reference = m.Groups["ref"].Value;
            if (CheckAuth(request, repo, method == "PUT" ? "push" : "pull", null) is { } denied)
            {
                return denied;
            }
            if (method == "PUT")
            {
                var mediaType = request.Content?.Headers.ContentType?.MediaType ?? "application/octet-stream";
                AddManifest(repo, reference, body, mediaType);
                var created = Respond(HttpStatusCode.Created);
                created.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digest.Of(body).Value);
                created.Headers.Location = new Uri($"/v2/{repo}/manifests/{Digest.Of(body)}", UriKind.Relative);
                return created;
            }
            var manifest = GetManifest(repo, reference);
            if (manifest is null)
            {
                return Respond(HttpStatusCode.NotFound, OciError("MANIFEST_UNKNOWN", "manifest unknown"));
            }
            var ok = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(manifest.Value.Content) };
            ok.Content.Headers.ContentType = new MediaTypeHeaderValue(manifest.Value.MediaType);
            ok.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digest.Of(manifest.Value.Content).Value);
            return ok;
        }

        if (BlobRoute().Match(path) is { Success: true } b)
        {
            var repo = b.Groups["repo"].Value;
            if (CheckAuth(request, repo, "pull", null) is { } denied)
            {
                return denied;
            }
            var key = repo + "@" + b.Groups["digest"].Value;
            byte[]? stored;
            lock (_lock)
            {
                _blobs.TryGetValue(key, out stored);
            }
            if (stored is null)
            {
                return Respond(HttpStatusCode.NotFound, method == "HEAD" ? null : OciError("BLOB_UNKNOWN", "blob unknown to registry"));
            }
            if (RedirectBlobs)
            {
                var redirect = new HttpResponseMessage(HttpStatusCode.TemporaryRedirect);
                redirect.Headers.Location = new Uri($"https://{StorageHost}/{Uri.EscapeDataString(key)}?sig=SIGNATURE-SECRET");
                return redirect;
            }
            return BlobResponse(request, stored);
        }

        if (UploadRoute().Match(path) is { Success: true } u)
        {
            var repo = u.Groups["repo"].Value;
            var id = u.Groups["id"].Value;
            var from = query.GetValueOrDefault("from");
            if (CheckAuth(request, repo, "push", from) is { } denied)
            {
                return denied;
            }
            if (method == "POST" && id.Length == 0)
            {
                if (query.TryGetValue("mount", out var mount) && from is not null && AllowMount)
                {
                    var fromAllowed = Auth != AuthMode.Bearer || TokenAllows(request.Headers.Authorization!.Parameter!, from + ":pull");
                    byte[]? source;
                    lock (_lock)
                    {
                        _blobs.TryGetValue(from + "@" + mount, out source);
                    }
                    if (source is not null && fromAllowed)
                    {
                        AddBlob(repo, source);
                        var created = Respond(HttpStatusCode.Created);
                        created.Headers.Location = new Uri($"/v2/{repo}/blobs/{mount}", UriKind.Relative);
                        return created;
                    }
                }
                string newId;
                lock (_lock)
                {
                    newId = "s" + (++_nextId);
                    _sessions[newId] = new MemoryStream();
                }
                var accepted = Respond(HttpStatusCode.Accepted);
                accepted.Headers.Location = new Uri($"/v2/{repo}/blobs/uploads/{newId}?_state=abc%3D", UriKind.Relative);
                accepted.Headers.TryAddWithoutValidation("Range", "0-0");
                if (ChunkMinLength is { } min)
                {
                    accepted.Headers.TryAddWithoutValidation("OCI-Chunk-Min-Length", min.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                return accepted;
            }

            MemoryStream? session;
            lock (_lock)
            {
                _sessions.TryGetValue(id, out session);
            }
            if (session is null)
            {
                return Respond(HttpStatusCode.NotFound, OciError("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"));
            }
            if (MaxBodyBytes is { } max && body.Length > max)
            {
                return Respond(HttpStatusCode.RequestEntityTooLarge, "request body too large", "text/plain");
            }

            switch (method)
            {
                case "DELETE":
                    lock (_lock)
                    {
                        _sessions.Remove(id);
                    }
                    return Respond(HttpStatusCode.NoContent);
                case "GET":
                    return SessionStatus(HttpStatusCode.NoContent, repo, id, session);
                case "PATCH":
                {
                    if (request.Content?.Headers.TryGetValues("Content-Range", out var ranges) == true)
                    {
                        var range = ranges.First();
                        var start = long.Parse(range[..range.IndexOf('-')], System.Globalization.CultureInfo.InvariantCulture);
                        if (start != session.Length)
                        {
                            return Respond(HttpStatusCode.RequestedRangeNotSatisfiable, OciError("BLOB_UPLOAD_INVALID", "range mismatch"));
                        }
                    }
                    await TrackUploadAsync(ct);
                    lock (_lock)
                    {
                        session.Write(body);
                    }
                    return SessionStatus(HttpStatusCode.Accepted, repo, id, session);
                }
                case "PUT":
                {
                    await TrackUploadAsync(ct);
                    lock (_lock)
                    {
                        session.Write(body);
                    }
                    var content = session.ToArray();
                    var expected = query.GetValueOrDefault("digest");
                    if (expected != Digest.Of(content).Value)
                    {
                        return Respond(HttpStatusCode.BadRequest, OciError("DIGEST_INVALID", "provided digest did not match uploaded content"));
                    }
                    AddBlob(repo, content);
                    lock (_lock)
                    {
                        _sessions.Remove(id);
                    }
                    var created = Respond(HttpStatusCode.Created);
                    created.Headers.Location = new Uri($"/v2/{repo}/blobs/{expected}", UriKind.Relative);
                    created.Headers.TryAddWithoutValidation("Docker-Content-Digest", expected);
                    return created;
                }
            }
        }

        return Respond(HttpStatusCode.NotFound, OciError("NAME_UNKNOWN", "unknown route " + path));
    }

    private async Task TrackUploadAsync(CancellationToken ct)
    {
        var now = Interlocked.Increment(ref _inFlightUploads);
        lock (_lock)
        {
            MaxConcurrentUploads = Math.Max(MaxConcurrentUploads, now);
        }
        try
        {
            if (UploadDelayMs > 0)
            {
                await Task.Delay(UploadDelayMs, ct);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlightUploads);
        }
    }

    private static HttpResponseMessage SessionStatus(HttpStatusCode status, string repo, string id, MemoryStream session)
    {
        var response = Respond(status);
        response.Headers.Location = new Uri($"/v2/{repo}/blobs/uploads/{id}?_state=next", UriKind.Relative);
        response.Headers.TryAddWithoutValidation("Range", $"0-{Math.Max(0, session.Length - 1)}");
        return response;
    }

    private static HttpResponseMessage BlobResponse(HttpRequestMessage request, byte[] stored)
    {
        if (request.Headers.Range?.Ranges.FirstOrDefault() is { From: { } from } && from > 0)
        {
            var partial = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = new ByteArrayContent(stored[(int)from..]) };
            partial.Content.Headers.ContentRange = new ContentRangeHeaderValue(from, stored.Length - 1, stored.Length);
            return partial;
        }
        var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = request.Method == HttpMethod.Head ? new ByteArrayContent([]) : new ByteArrayContent(stored),
        };
        response.Content.Headers.ContentLength = stored.Length;
        response.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digest.Of(stored).Value);
        return response;
    }

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            result[key] = value;
        }
        return result;
    }

    private static string[] ParseQueryAll(string query, string name) =>
        query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2 && p[0] == name)
            .Select(p => Uri.UnescapeDataString(p[1].Replace('+', ' ')))
            .ToArray();

    public static byte[] RandomBytes(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static Digest DigestOf(byte[] content) => Digest.FromHash(SHA256.HashData(content));
}

/// <summary>A log that keeps every line, to check what was said (and that no secret was).</summary>
internal sealed class CapturingLog : IBuildLog
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public string All => string.Join("\n", _lines);

    public void Info(string message) => _lines.Enqueue("info: " + message);

    public void Detail(string message) => _lines.Enqueue("detail: " + message);

    public void Warning(string code, string message) => _lines.Enqueue($"warning {code}: " + message);
}

/// <summary>A clock the test moves by hand (token expiry).</summary>
internal sealed class ManualTime : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;
}

internal static class RegistryTestHelpers
{
    public const string Registry = "registry.test";

    /// <summary>Options for tests: the fake as handler, an empty environment, instant retries that are recorded.</summary>
    public static RegistryClientOptions Options(FakeRegistry fake, CapturingLog? log = null, IReadOnlyDictionary<string, string?>? environment = null, List<TimeSpan>? delays = null) => new()
    {
        InnerHandler = fake,
        Environment = environment ?? new Dictionary<string, string?>(),
        Log = log ?? new CapturingLog(),
        RetryBaseDelay = TimeSpan.FromMilliseconds(100),
        Delay = (d, ct) =>
        {
            if (delays is not null)
            {
                lock (delays)
                {
                    delays.Add(d);
                }
            }
            ct.ThrowIfCancellationRequested();
            return Task.CompletedTask;
        },
    };

    public static Dictionary<string, string?> Env(params (string Key, string? Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
}
