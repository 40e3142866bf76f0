using System.Net;
using System.Net.Security;
using System.Reflection;

namespace ZstdContainers.Registry;

/// <summary>
/// The registry's HTTP concerns as one pipeline, built here and nowhere else:
/// <see cref="SchemeHandler"/> (http or https, the registry's authority on its paths) →
/// <see cref="RetryHandler"/> (Retry-After, backoff) → <see cref="AuthHandler"/> (credentials to the registry only,
/// challenges answered) → <see cref="RedirectHandler"/> (redirects without credentials across hosts) → the transport.
/// Token requests and the scheme pings go to the bare transport.
/// </summary>
internal sealed class RegistryHttpPipeline(
    HttpMessageHandler transport, bool ownsTransport, HttpClient bare, HttpMessageInvoker invoker, RegistryAuthenticator auth) : IDisposable
{
    private static readonly string UserAgent =
        "ZstdContainers/" + (typeof(RegistryHttpPipeline).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    public RegistryAuthenticator Auth => auth;

    public static RegistryHttpPipeline Create(RegistryEndpoint endpoint, RegistryAccess access, RegistryClientOptions options, RetryFailures failures)
    {
        var log = options.Log ?? NullBuildLog.Instance;
        var time = options.TimeProvider ?? TimeProvider.System;
        var transport = options.InnerHandler ?? CreateTransport(endpoint);
        // The handlers are disposed by Dispose (the transport only when the pipeline made it).
        var bare = new HttpClient(transport, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        bare.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);

        var resolver = new CredentialResolver(endpoint, access, options.Environment, log, options.CredentialHelperTimeout);
        SchemeHandler? scheme = null;
        var auth = new RegistryAuthenticator(endpoint, access, resolver, bare, time, log, () => scheme?.Decided);
        scheme = new SchemeHandler(endpoint, bare, auth, log, options.RequestTimeout);
        var origin = new RegistryOrigin(endpoint, () => scheme.Decided);

        scheme.InnerHandler = new RetryHandler(failures, time)
        {
            InnerHandler = new AuthHandler(origin, auth)
            {
                InnerHandler = new RedirectHandler(origin, log, time) { InnerHandler = transport },
            },
        };
        return new RegistryHttpPipeline(transport, options.InnerHandler is null, bare, new HttpMessageInvoker(scheme, disposeHandler: false), auth);
    }

    /// <summary>Sends a request through every handler; the response comes back once its headers have.</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage message, CancellationToken cancellationToken)
    {
        message.Headers.UserAgent.ParseAdd(UserAgent);
        return invoker.SendAsync(message, cancellationToken);
    }

    private static SocketsHttpHandler CreateTransport(RegistryEndpoint endpoint)
    {
        var handler = new SocketsHttpHandler
        {
            // Redirects are followed by hand so credentials never travel to another host.
            AllowAutoRedirect = false,
            // Blob digests are over the bytes as stored: never let the transport decompress them.
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        if (endpoint.IsInsecure)
        {
            // Only used when an insecure registry turns out to speak TLS; any other host keeps full verification.
            handler.SslOptions.RemoteCertificateValidationCallback = (sender, _, _, errors) =>
                errors == SslPolicyErrors.None
                || (sender is SslStream stream && string.Equals(stream.TargetHostName, endpoint.Host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase));
        }
        return handler;
    }

    /// <summary>
    /// The handlers hold nothing to release, and disposing them would dispose the transport with them (a
    /// DelegatingHandler disposes its inner handler), which is the caller's when it gave one: only the clients,
    /// the token cache and a transport made here are disposed.
    /// </summary>
    public void Dispose()
    {
        invoker.Dispose();
        bare.Dispose();
        auth.Dispose();
        if (ownsTransport)
        {
            transport.Dispose();
        }
    }
}
