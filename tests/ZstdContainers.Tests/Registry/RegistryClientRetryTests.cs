using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Registry;

public sealed class RegistryClientRetryTests
{
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{}}""");

    private static Task<HttpResponseMessage?> Pass => Task.FromResult<HttpResponseMessage?>(null);

    private static Task<HttpResponseMessage?> Status(HttpStatusCode status, string? retryAfter = null, string? body = null)
    {
        var r = FakeRegistry.Respond(status, body);
        if (retryAfter is not null)
        {
            r.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }
        return Task.FromResult<HttpResponseMessage?>(r);
    }

    private static (FakeRegistry Fake, RegistryClient Client, List<TimeSpan> Delays, CapturingLog Log) Setup(
        Func<HttpRequestMessage, int, Task<HttpResponseMessage?>> intercept, Func<RegistryClientOptions, RegistryClientOptions>? configure = null)
    {
        var fake = new FakeRegistry { Intercept = intercept };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        var delays = new List<TimeSpan>();
        var log = new CapturingLog();
        var options = RegistryTestHelpers.Options(fake, log, delays: delays);
        var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, configure is null ? options : configure(options));
        return (fake, client, delays, log);
    }

    [Fact]
    public async Task Server_error_then_success()
    {
        var (fake, client, delays, log) = Setup((_, n) => n <= 2 ? Status(HttpStatusCode.ServiceUnavailable) : Pass);
        using (client)
        {
            var m = await client.GetManifestAsync("app", "v1", CancellationToken.None);
            Assert.Equal(Manifest, m.Content);
            Assert.Equal(3, fake.Requests.Count);
            Assert.Equal(2, delays.Count);
            Assert.InRange(delays[0].TotalMilliseconds, 50, 100); // base 100 ms with jitter
            Assert.InRange(delays[1].TotalMilliseconds, 100, 200); // doubled
            Assert.Contains("retry 1 of 5", log.All);
        }
    }

    [Fact]
    public async Task Too_many_requests_honours_retry_after_seconds_and_dates()
    {
        var date = DateTimeOffset.UtcNow.AddSeconds(40).ToString("r");
        var (fake, client, delays, _) = Setup((_, n) => n switch
        {
            1 => Status(HttpStatusCode.TooManyRequests, "7"),
            2 => Status(HttpStatusCode.TooManyRequests, date),
            _ => Pass,
        });
        using (client)
        {
            await client.GetManifestAsync("app", "v1", CancellationToken.None);
            Assert.Equal(TimeSpan.FromSeconds(7), delays[0]);
            Assert.InRange(delays[1].TotalSeconds, 35, 41);
            Assert.Equal(3, fake.Requests.Count);
        }
    }

    [Fact]
    public async Task Retry_after_beyond_the_retry_budget_gives_up_at_once()
    {
        var (fake, client, delays, _) = Setup((_, _) => Status(HttpStatusCode.TooManyRequests, "3600", FakeRegistry.OciError("TOOMANYREQUESTS", "You have reached your pull rate limit")));
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryError, ex.Code);
            Assert.Contains("429", ex.Message);
            Assert.Contains("pull rate limit", ex.Message);
            Assert.Contains("rate-limiting", ex.Message);
            Assert.Single(fake.Requests);
            Assert.Empty(delays);
        }
    }

    [Fact]
    public async Task Persistent_server_error_is_a_coded_error_after_max_retries()
    {
        var (fake, client, delays, _) = Setup((_, _) => Status(HttpStatusCode.InternalServerError, body: FakeRegistry.OciError("UNKNOWN", "storage backend exploded")),
            o => o with { MaxRetries = 3 });
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryError, ex.Code);
            Assert.Contains("registry.test", ex.Message);
            Assert.Contains("GET /v2/app/manifests/v1 returned 500", ex.Message);
            Assert.Contains("storage backend exploded", ex.Message);
            Assert.Contains("4 attempts", ex.Message);
            Assert.Equal(4, fake.Requests.Count);
            Assert.Equal(3, delays.Count);
            Assert.DoesNotContain("   at ", ex.Message); // no stack trace
        }
    }

    [Fact]
    public async Task Retry_time_budget_bounds_the_retries()
    {
        var (fake, client, _, _) = Setup((_, _) => Status(HttpStatusCode.BadGateway),
            o => o with { MaxRetries = 100, RetryBaseDelay = TimeSpan.FromSeconds(10), MaxRetryDelay = TimeSpan.FromSeconds(10), MaxRetryTime = TimeSpan.FromSeconds(25) });
        using (client)
        {
            // The fake delay does not sleep, so only the computed delays count against 25 s: 5–10 s each.
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryError, ex.Code);
            Assert.True(fake.Requests.Count < 10);
        }
    }

    [Fact]
    public async Task Connection_refused_retries_then_reports_unreachable()
    {
        var (fake, client, delays, _) = Setup((_, _) => throw new HttpRequestException(HttpRequestError.ConnectionError,
            "Connection refused (registry.test:443)", new SocketException((int)SocketError.ConnectionRefused)), o => o with { MaxRetries = 2 });
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryUnreachable, ex.Code);
            Assert.Contains("registry.test", ex.Message);
            Assert.Contains("Connection refused", ex.Message);
            Assert.Contains("ContainerRegistry", PropertyNames.Render(ex.Message));
            Assert.Equal(3, fake.Requests.Count);
            Assert.Equal(2, delays.Count);
        }
    }

    [Fact]
    public async Task Unknown_host_is_not_retried()
    {
        var (fake, client, _, _) = Setup((_, _) => throw new HttpRequestException(HttpRequestError.NameResolutionError,
            "Name or service not known (nope.test:443)", new SocketException((int)SocketError.HostNotFound)));
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryUnreachable, ex.Code);
            Assert.Single(fake.Requests);
        }
    }

    [Fact]
    public async Task Tls_failure_is_not_retried_and_points_to_the_ca_and_insecure_list()
    {
        var (fake, client, _, _) = Setup((_, _) => throw new HttpRequestException(HttpRequestError.SecureConnectionError,
            "The SSL connection could not be established, see inner exception.",
            new AuthenticationException("The remote certificate is invalid because of errors in the certificate chain: UntrustedRoot")));
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.TlsFailure, ex.Code);
            Assert.Contains("registry.test", ex.Message);
            Assert.Contains("UntrustedRoot", ex.Message);
            Assert.Contains("SSL_CERT_FILE", ex.Message);
            Assert.Contains("DOTNET_CONTAINER_INSECURE_REGISTRIES", ex.Message);
            Assert.Single(fake.Requests);
        }
    }

    [Fact]
    public async Task Stalled_request_times_out_and_is_retried_then_coded()
    {
        var (fake, client, delays, _) = Setup((_, _) => Pass, o => o with { RequestTimeout = TimeSpan.FromMilliseconds(150), MaxRetries = 1 });
        fake.Stall = (_, _) => true;
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryTimeout, ex.Code);
            Assert.Contains("no progress", ex.Message);
            Assert.Equal(2, fake.Requests.Count);
            Assert.Single(delays);
        }
    }

    [Fact]
    public async Task Cancellation_propagates_at_once_and_is_not_retried()
    {
        using var cts = new CancellationTokenSource();
        var (fake, client, delays, _) = Setup(async (_, _) =>
        {
            await cts.CancelAsync();
            throw new TaskCanceledException("cancelled", null, cts.Token);
        });
        using (client)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetManifestAsync("app", "v1", cts.Token));
            Assert.Single(fake.Requests);
            Assert.Empty(delays);
        }
    }

    [Fact]
    public async Task Cancellation_during_a_backoff_delay_propagates()
    {
        using var cts = new CancellationTokenSource();
        var fake = new FakeRegistry { Intercept = (_, _) => Status(HttpStatusCode.ServiceUnavailable) };
        var options = RegistryTestHelpers.Options(fake) with
        {
            Delay = async (d, ct) =>
            {
                await cts.CancelAsync();
                await Task.Delay(d, ct);
            },
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, options);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetManifestAsync("app", "v1", cts.Token));
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task Body_cut_mid_way_is_retried()
    {
        var (fake, client, delays, _) = Setup((_, n) =>
        {
            if (n != 1)
            {
                return Pass;
            }
            var r = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new BrokenStream(Manifest[..10])) };
            r.Content.Headers.ContentLength = Manifest.Length;
            r.Content.Headers.ContentType = new(MediaTypes.OciManifest);
            return Task.FromResult<HttpResponseMessage?>(r);
        });
        using (client)
        {
            var m = await client.GetManifestAsync("app", "v1", CancellationToken.None);
            Assert.Equal(Manifest, m.Content);
            Assert.Equal(2, fake.Requests.Count);
            Assert.Single(delays);
        }
    }

    [Fact]
    public async Task Non_retryable_client_error_carries_the_oci_error()
    {
        var (fake, client, delays, _) = Setup((req, _) => req.Method == HttpMethod.Put
            ? Status(HttpStatusCode.BadRequest, body: FakeRegistry.OciError("MANIFEST_INVALID", "manifest invalid"))
            : Pass);
        using (client)
        {
            var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.PutManifestAsync("app", "v2", Manifest, MediaTypes.OciManifest, CancellationToken.None));
            Assert.Equal(ErrorCodes.RegistryError, ex.Code);
            Assert.Equal("Registry 'registry.test': PUT /v2/app/manifests/v2 returned 400 Bad Request: MANIFEST_INVALID: manifest invalid.", ex.Message);
            Assert.Single(fake.Requests);
            Assert.Empty(delays);
        }
    }

    /// <summary>Gives some bytes, then fails like a dropped connection.</summary>
    internal sealed class BrokenStream(byte[] prefix) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= prefix.Length)
            {
                throw new IOException("Connection reset by peer");
            }
            var n = Math.Min(count, prefix.Length - _position);
            Array.Copy(prefix, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
