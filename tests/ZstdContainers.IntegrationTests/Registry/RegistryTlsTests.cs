namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// A registry serving HTTPS with a certificate from a private CA made here with the openssl CLI. Trusted through
/// SSL_CERT_FILE the push works; untrusted it fails with ZSTDC3004 and no stack trace.
/// The registry is named by a host name (not 127.0.0.1 or localhost, which are insecure registries by rule and get
/// no certificate check), so the client really verifies the certificate.
/// </summary>
[Collection(RigCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RegistryTlsTests(PackageFixture package) : IAsyncLifetime
{
    private string _directory = string.Empty;
    private RegistryServer? _registry;
    private string _caFile = string.Empty;

    private RegistryServer Registry => _registry!;

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("zc-tls-").FullName;
        var (name, address) = await RegistryTestKit.LoopbackHostNameAsync();
        _caFile = Path.Combine(_directory, "ca.pem");
        var caKey = Path.Combine(_directory, "ca.key");
        var serverKey = Path.Combine(_directory, "server.key");
        var serverCsr = Path.Combine(_directory, "server.csr");
        var serverCert = Path.Combine(_directory, "server.pem");
        var extensions = Path.Combine(_directory, "server.ext");
        await File.WriteAllTextAsync(extensions, $"""
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:{name}, IP:{address}, IP:127.0.0.1

            """);
        await OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-keyout", caKey, "-out", _caFile, "-subj", "/CN=ZstdContainers test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        await OpenSsl("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", serverKey, "-out", serverCsr, "-subj", "/CN=" + name);
        await OpenSsl("x509", "-req", "-in", serverCsr, "-CA", _caFile, "-CAkey", caKey, "-CAcreateserial", "-sha256", "-days", "2",
            "-extfile", extensions, "-out", serverCert);

        _registry = await RegistryServer.StartAsync("tls", new RegistryServer.Options
        {
            Host = name,
            BindAddress = address,
            Tls = (serverCert, serverKey),
        });
    }

    private static async Task OpenSsl(params string[] args) =>
        (await Command.RunAsync("openssl", args, timeout: TimeSpan.FromMinutes(1))).EnsureSuccess("openssl " + args[0]);

    public async Task DisposeAsync()
    {
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_registry_whose_private_CA_is_trusted_through_SSL_CERT_FILE_takes_the_push_over_https()
    {
        // SSL_CERT_FILE replaces OpenSSL's default bundle: give it the system's CAs plus ours.
        var bundle = Path.Combine(_directory, "bundle.pem");
        var system = File.Exists("/etc/ssl/certs/ca-certificates.crt") ? await File.ReadAllTextAsync("/etc/ssl/certs/ca-certificates.crt") : string.Empty;
        await File.WriteAllTextAsync(bundle, system + "\n" + await File.ReadAllTextAsync(_caFile));
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, Registry.Address, "it/tls", "v1",
            new Dictionary<string, string?> { ["SSL_CERT_FILE"] = bundle, ["SSL_CERT_DIR"] = null },
            "-v:detailed");

        result.EnsureSuccess("publish to the TLS registry with its CA trusted\n" + Registry.Log);
        Assert.Contains($"Pushed {Registry.Address}/it/tls:v1", result.Output);
        Assert.Contains($"https://{Registry.Address}/", result.Output); // the detailed request log: over https
        Assert.NotNull(await Registry.ManifestDigestAsync("it/tls", "v1"));
    }

    [Fact]
    public async Task A_registry_whose_CA_is_not_trusted_fails_with_ZSTDC3004_naming_the_registry_and_the_insecure_setting()
    {
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, Registry.Address, "it/tls-untrusted", "v1",
            new Dictionary<string, string?> { ["SSL_CERT_FILE"] = null, ["SSL_CERT_DIR"] = null });

        RegistryTestKit.AssertCleanFailure(result, "ZSTDC3004");
        var error = RegistryTestKit.ErrorLine(result, "ZSTDC3004");
        Assert.Contains($"'{Registry.Address}'", error);
        Assert.Contains("DOTNET_CONTAINER_INSECURE_REGISTRIES", error);
        Assert.Contains("SSL_CERT_FILE", error);
        Assert.Null(await Registry.ManifestDigestAsync("it/tls-untrusted", "v1"));
    }
}
