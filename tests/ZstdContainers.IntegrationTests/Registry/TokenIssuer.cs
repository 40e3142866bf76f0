using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// A token service for Distribution's `auth.token`, on 127.0.0.1: GET /token?service=&amp;scope=… with Basic
/// credentials answers {"token": JWT}. The JWT is RS256, carries its certificate in the `x5c` header (the
/// registry verifies it against `rootcertbundle`, which is that same self-signed certificate), and grants exactly
/// the requested `access` — to the one user it knows, with the right password. Anything else gets 401.
/// Every request is recorded, so a test can check which scopes the client asked for.
/// </summary>
public sealed class TokenIssuer : IDisposable
{
    public const string Service = "zc-test-registry";
    public const string Issuer = "zc-test-issuer";

    private readonly HttpListener _listener = new();
    private readonly RSA _key = RSA.Create(2048);
    private readonly X509Certificate2 _certificate;
    private readonly string _user;
    private readonly string _password;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public TokenIssuer(string directory, string user, string password)
    {
        _user = user;
        _password = password;
        var request = new CertificateRequest("CN=zc-test token signer", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        RootCertificateBundle = Path.Combine(directory, "token-signer.pem");
        File.WriteAllText(RootCertificateBundle, _certificate.ExportCertificatePem() + "\n");

        // HttpListener needs the port up front; a port taken in between makes Start throw, so try a few.
        for (var attempt = 0; ; attempt++)
        {
            Port = RegistryServer.FreePort(IPAddress.Loopback);
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public string Realm => $"http://127.0.0.1:{Port}/token";

    /// <summary>The PEM file to give the registry as auth.token.rootcertbundle.</summary>
    public string RootCertificateBundle { get; }

    /// <summary>The registry's auth section for this issuer.</summary>
    public string AuthYaml => $"""
          token:
            realm: {Realm}
            service: {Service}
            issuer: {Issuer}
            rootcertbundle: {RootCertificateBundle}
        """;

    public sealed record TokenRequest(string? Service, IReadOnlyList<string> Scopes, string? User, bool Authenticated, string? Account)
    {
        /// <summary>The Authorization header as received (any scheme), or null.</summary>
        public string? Authorization { get; init; }
    }

    public ConcurrentQueue<TokenRequest> Requests { get; } = new();

    /// <summary>
    /// When set, the first token handed out, and every other one handed out before it dies, stops being accepted
    /// by the registry after about this long (its exp is set so, the registry allowing 60 s of clock skew), while
    /// its expires_in still says 300 s: a token that expires in the middle of a push, unknown to the client.
    /// </summary>
    public TimeSpan? FirstTokenAcceptedFor { get; set; }

    /// <summary>With <see cref="FirstTokenAcceptedFor"/>: the moment after which the registry refuses the first token.</summary>
    public DateTimeOffset? FirstTokenRefusedAfter { get; private set; }

    /// <summary>Anonymous token requests get pull access (a public base image registry); push still needs the user.</summary>
    public bool AnonymousPull { get; set; }

    /// <summary>Every token handed out (for scanning logs for them).</summary>
    public ConcurrentQueue<string> IssuedTokens { get; } = new();

    /// <summary>A token as the service would issue it, for the test's own checks of the registry.</summary>
    public string IssueFor(params string[] scopes) => CreateToken(_user, scopes);

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            try
            {
                Handle(context);
            }
            catch (Exception ex)
            {
                // A broken request must not stop the service; the test sees the client's failure.
                Console.Error.WriteLine("token issuer: " + ex.Message);
                try
                {
                    context.Response.Abort();
                }
                catch (Exception)
                {
                }
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (request.Url?.AbsolutePath != "/token")
        {
            Reply(response, 404, """{"errors":[{"code":"NOT_FOUND","message":"no such endpoint"}]}""");
            return;
        }
        var scopes = (request.QueryString.GetValues("scope") ?? [])
            .SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToList();
        string? user = null;
        var authenticated = false;
        if (request.Headers["Authorization"] is { } header && header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':');
            user = colon >= 0 ? decoded[..colon] : decoded;
            authenticated = colon >= 0 && user == _user && decoded[(colon + 1)..] == _password;
        }
        Requests.Enqueue(new TokenRequest(request.QueryString["service"], scopes, user, authenticated, request.QueryString["account"])
        {
            Authorization = request.Headers["Authorization"],
        });

        var anonymous = !authenticated && user is null && AnonymousPull;
        if (anonymous)
        {
            scopes = [.. scopes.Select(PullOnly).Where(s => s is not null).Select(s => s!)];
        }
        if (!authenticated && !anonymous)
        {
            response.AddHeader("WWW-Authenticate", "Basic realm=\"zc-test-issuer\"");
            Reply(response, 401, """{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}""");
            return;
        }
        if (request.QueryString["service"] != Service)
        {
            Reply(response, 400, """{"errors":[{"code":"DENIED","message":"unknown service"}]}""");
            return;
        }
        TimeSpan? acceptedFor = null;
        if (FirstTokenAcceptedFor is { } shortLived)
        {
            // Every token handed out before that moment dies with the first one: a test whose publish opens more
            // than one client on the registry (each with a token of its own) still meets the expiry in every client.
            var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            FirstTokenRefusedAfter ??= now + shortLived;
            if (now < FirstTokenRefusedAfter)
            {
                acceptedFor = FirstTokenRefusedAfter - now;
            }
        }
        var token = CreateToken(user ?? "anonymous", scopes, acceptedFor);
        IssuedTokens.Enqueue(token);
        var body = new JsonObject
        {
            ["token"] = token,
            ["access_token"] = token,
            ["expires_in"] = 300,
            ["issued_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        };
        Reply(response, 200, body.ToJsonString());
    }

    /// <summary>"repository:NAME:pull,push" → "repository:NAME:pull"; null when the scope asks for no pull.</summary>
    private static string? PullOnly(string scope)
    {
        var colon = scope.LastIndexOf(':');
        return colon > 0 && scope[(colon + 1)..].Split(',').Contains("pull") ? scope[..colon] + ":pull" : null;
    }

    private static void Reply(HttpListenerResponse response, int status, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    private string CreateToken(string subject, IEnumerable<string> scopes, TimeSpan? acceptedFor = null)
    {
        var access = new JsonArray();
        foreach (var scope in scopes)
        {
            // repository:NAME:pull,push (NAME may hold ':' only with a port, which repositories never have)
            var parts = scope.Split(':');
            if (parts.Length != 3)
            {
                continue;
            }
            access.Add(new JsonObject
            {
                ["type"] = parts[0],
                ["name"] = parts[1],
                ["actions"] = new JsonArray([.. parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(a => (JsonNode?)a)]),
            });
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject
        {
            ["typ"] = "JWT",
            ["alg"] = "RS256",
            ["x5c"] = new JsonArray(Convert.ToBase64String(_certificate.RawData)),
        };
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["sub"] = subject,
            ["aud"] = Service,
            ["exp"] = acceptedFor is { } a ? now + (long)a.TotalSeconds - 60 : now + 300,
            ["nbf"] = now - 120,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        var signingInput = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _listener.Stop();
            _listener.Close();
        }
        catch (ObjectDisposedException)
        {
        }
        _loop.Wait(TimeSpan.FromSeconds(5));
        _certificate.Dispose();
        _key.Dispose();
        _stop.Dispose();
    }
}
