using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// A Distribution registry (`docker-registry serve`) of a test's own: a free port on a loopback address, its own
/// storage in a temp folder, and optionally htpasswd or token auth and TLS. Disposing stops it (by the process
/// it started) and deletes the folder.
/// </summary>
public sealed class RegistryServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log;

    private RegistryServer(string root, string host, IPAddress bindAddress, int port, bool tls, Process process, StringBuilder log)
    {
        Root = root;
        Host = host;
        BindAddress = bindAddress;
        Port = port;
        IsTls = tls;
        _process = process;
        _log = log;
    }

    /// <summary>The folder holding config, storage and any auth files; deleted on dispose.</summary>
    public string Root { get; }

    /// <summary>The name clients use: "127.0.0.1", or a host name that resolves to <see cref="BindAddress"/>.</summary>
    public string Host { get; }

    public IPAddress BindAddress { get; }

    public int Port { get; }

    public bool IsTls { get; }

    /// <summary>"host:port", as ContainerRegistry takes it.</summary>
    public string Address => $"{Host}:{Port}";

    public IPEndPoint EndPoint => new(BindAddress, Port);

    /// <summary>What the registry printed so far (its log level is info: auth failures show here).</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public sealed record Options
    {
        /// <summary>The auth section of the config (YAML, indented by two spaces under "auth:"), or null.</summary>
        public string? AuthYaml { get; init; }

        /// <summary>Or: writes what auth needs into the registry's folder (given) and returns the auth section.</summary>
        public Func<string, Task<string>>? AuthSetup { get; init; }

        /// <summary>PEM files for http.tls, or null for plain HTTP.</summary>
        public (string CertificateFile, string KeyFile)? Tls { get; init; }

        /// <summary>The name clients use; its addresses must be loopback. Default "127.0.0.1".</summary>
        public string Host { get; init; } = "127.0.0.1";

        public IPAddress BindAddress { get; init; } = IPAddress.Loopback;

        /// <summary>Logs every request with its status and bytes sent (Apache combined format) into <see cref="Log"/>.</summary>
        public bool AccessLog { get; init; }
    }

    public static async Task<RegistryServer> StartAsync(string name, Options? options = null)
    {
        // The free port is found a moment before the registry binds it; should another process take it in
        // between, the registry exits at once and a new port is tried.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(name, options ?? new Options());
            }
            catch (PortTakenException) when (attempt < 3)
            {
            }
        }
    }

    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    private static async Task<RegistryServer> StartOnceAsync(string name, Options options)
    {
        if (!IPAddress.IsLoopback(options.BindAddress))
        {
            throw new ArgumentException("Test registries listen on loopback addresses only.", nameof(options));
        }
        var root = Directory.CreateTempSubdirectory("zc-reg-" + name + "-").FullName;
        var port = FreePort(options.BindAddress);
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var config = new StringBuilder($"""
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: {(options.AccessLog ? "false" : "true")}
            storage:
              filesystem:
                rootdirectory: {root}/storage
              delete:
                enabled: true
              cache:
                blobdescriptor: inmemory
            http:
              addr: {options.BindAddress}:{port}
              secret: {secret}

            """);
        if (options.Tls is { } tls)
        {
            config.Append($"""
                  tls:
                    certificate: {tls.CertificateFile}
                    key: {tls.KeyFile}

                """);
        }
        var auth = options.AuthSetup is { } setup ? await setup(root) : options.AuthYaml;
        if (auth is not null)
        {
            config.Append("auth:\n").Append(auth.TrimEnd()).Append('\n');
        }
        var configFile = Path.Combine(root, "config.yml");
        await File.WriteAllTextAsync(configFile, config.ToString());

        var start = new ProcessStartInfo("docker-registry")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(configFile);
        var log = new StringBuilder();
        var process = Process.Start(start) ?? throw new InvalidOperationException("docker-registry did not start");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var server = new RegistryServer(root, options.Host, options.BindAddress, port, options.Tls is not null, process, log);
        try
        {
            await server.WaitUntilAnsweringAsync(TimeSpan.FromSeconds(20));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>A free TCP port on the address (the registry binds it a moment later).</summary>
    public static int FreePort(IPAddress address)
    {
        using var probe = new TcpListener(address, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task WaitUntilAnsweringAsync(TimeSpan timeout)
    {
        using var http = ProbeClient(trustAnyCertificate: true);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // and for its output to be read to the end
                var message = $"docker-registry exited with {_process.ExitCode}:\n{Log}";
                throw Log.Contains("address already in use", StringComparison.OrdinalIgnoreCase)
                    ? new PortTakenException(message)
                    : new InvalidOperationException(message);
            }
            try
            {
                using var response = await http.GetAsync("/v2/");
                return; // 200 or 401: it answers
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (HttpRequestException ex)
            {
                throw new TimeoutException($"docker-registry on {Address} did not answer within {timeout.TotalSeconds} s ({ex.Message}):\n{Log}");
            }
        }
    }

    /// <summary>
    /// An HttpClient for checking what the registry holds. It connects to <see cref="BindAddress"/> whatever the
    /// name, and never sends credentials unless given an Authorization.
    /// </summary>
    public HttpClient ProbeClient(bool trustAnyCertificate = false, AuthenticationHeaderValue? authorization = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(BindAddress, Port), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        if (trustAnyCertificate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        var http = new HttpClient(handler) { BaseAddress = new Uri($"{(IsTls ? "https" : "http")}://{Address}"), Timeout = TimeSpan.FromSeconds(30) };
        if (authorization is not null)
        {
            http.DefaultRequestHeaders.Authorization = authorization;
        }
        return http;
    }

    /// <summary>The digest of the manifest a tag points at, or null when the tag is not there.</summary>
    public async Task<string?> ManifestDigestAsync(string repository, string tag, AuthenticationHeaderValue? authorization = null)
    {
        using var http = ProbeClient(trustAnyCertificate: true, authorization);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.index.v1+json");
        using var response = await http.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        var bytes = await response.Content.ReadAsByteArrayAsync();
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
