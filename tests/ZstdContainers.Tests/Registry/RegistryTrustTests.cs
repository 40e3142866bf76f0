using System.Net;
using System.Text;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

/// <summary>
/// Where credentials may go (issue 9 items 1–4) and what a hostile registry may not do to the build (7, 9, 10):
/// each test drives the client through the fake registry with a registry, storage or token service misbehaving.
/// </summary>
public sealed class RegistryTrustTests
{
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}""");

    private static Dictionary<string, string?> PushCredentials(FakeRegistry fake, params (string Key, string? Value)[] more) =>
        RegistryTestHelpers.Env([("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", fake.User), ("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD", fake.Password), .. more]);

    private static Task<HttpResponseMessage?> Answer(HttpResponseMessage response) => Task.FromResult<HttpResponseMessage?>(response);

    private static Task<HttpResponseMessage?> PassOn() => Task.FromResult<HttpResponseMessage?>(null);

    private static HttpResponseMessage UploadAccepted(string location)
    {
        var accepted = FakeRegistry.Respond(HttpStatusCode.Accepted);
        accepted.Headers.TryAddWithoutValidation("Location", location);
        return accepted;
    }

    private static void AssertNoSecret(FakeRegistry fake, string where)
    {
        var basic = "Basic " + FakeRegistry.BasicValue(fake.User, fake.Password);
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Host == where && r.Authorization is not null);
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Host == where && r.Headers.Values.Any(v => v.Contains(fake.Password) || v.Contains(basic)));
    }

    // ------------------------------------------------------------ 1. upload locations

    [Theory]
    [InlineData("https://collector.test/upload/s1?_state=x")]
    [InlineData("https://registry.test:8443/v2/app/blobs/uploads/s1")]
    public async Task Upload_location_on_another_origin_gets_no_credentials(string location)
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Basic };
        var other = new Uri(location);
        fake.Intercept = (req, _) =>
        {
            var uri = req.RequestUri!;
            if (uri.Host == "registry.test" && uri.IsDefaultPort && req.Method == HttpMethod.Post && uri.AbsolutePath.EndsWith("/blobs/uploads/", StringComparison.Ordinal)
                && req.Headers.Authorization is not null)
            {
                return Answer(UploadAccepted(location));
            }
            if (uri.Host == other.Host && uri.Port == other.Port)
            {
                var created = FakeRegistry.Respond(HttpStatusCode.Created);
                created.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digest.Of(FakeRegistry.RandomBytes(300)).Value);
                return Answer(created);
            }
            return PassOn();
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));
        var blob = FakeRegistry.RandomBytes(300);

        await client.UploadBlobAsync("app", Digest.Of(blob), blob.Length, () => new MemoryStream(blob), CancellationToken.None);

        var put = Assert.Single(fake.Requests, r => r.Uri.Host == other.Host && r.Uri.Port == other.Port);
        Assert.Equal("PUT", put.Method);
        Assert.Null(put.Authorization);
        Assert.Contains(fake.Requests, r => r.Uri.Host == "registry.test" && r.Uri.IsDefaultPort && r.Authorization is not null); // the registry itself did get them
    }

    [Fact]
    public async Task Upload_location_downgraded_to_http_is_refused_before_anything_is_sent_there()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Basic };
        fake.Intercept = (req, _) =>
            req.Method == HttpMethod.Post && req.RequestUri!.AbsolutePath.EndsWith("/blobs/uploads/", StringComparison.Ordinal) && req.Headers.Authorization is not null
                ? Answer(UploadAccepted("http://registry.test/v2/app/blobs/uploads/s1"))
                : PassOn();
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, log, PushCredentials(fake)));
        var blob = FakeRegistry.RandomBytes(300);

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() =>
            client.UploadBlobAsync("app", Digest.Of(blob), blob.Length, () => new MemoryStream(blob), CancellationToken.None));

        Assert.Equal(ErrorCodes.InsecureSchemeDowngrade, ex.Code);
        Assert.Contains("DOTNET_CONTAINER_INSECURE_REGISTRIES", ex.Message);
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Scheme == "http");
        Assert.DoesNotContain(fake.Password, ex.Message + log.All);
    }

    [Fact]
    public async Task Insecure_registry_may_hand_out_plain_http_locations()
    {
        var fake = new FakeRegistry();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push,
            RegistryTestHelpers.Options(fake, environment: RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", "registry.test"))));
        var blob = FakeRegistry.RandomBytes(300);

        await client.UploadBlobAsync("app", Digest.Of(blob), blob.Length, () => new MemoryStream(blob), CancellationToken.None);

        Assert.True(fake.HasBlob("app", Digest.Of(blob)));
        Assert.All(fake.Requests, r => Assert.Equal("http", r.Uri.Scheme));
    }

    // ------------------------------------------------------------ 3. challenges after a redirect

    [Fact]
    public async Task Challenge_from_storage_behind_a_redirect_is_not_answered()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Basic, RedirectBlobs = true };
        var layer = FakeRegistry.RandomBytes(2000);
        fake.AddBlob("app", layer);
        fake.Intercept = (req, _) =>
        {
            if (req.RequestUri!.Host != FakeRegistry.StorageHost)
            {
                return PassOn();
            }
            var denied = FakeRegistry.Respond(HttpStatusCode.Unauthorized);
            denied.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer realm=\"https://evil.test/token\",service=\"x\"");
            return Answer(denied);
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.OpenBlobAsync("app", Digest.Of(layer), layer.Length, CancellationToken.None));
        Assert.Equal(ErrorCodes.UntrustedAuthChallenge, ex.Code);
        Assert.Contains(FakeRegistry.StorageHost, ex.Message);
        Assert.DoesNotContain("SIGNATURE-SECRET", ex.Message);

        // Nor is it remembered: the next request to the registry still answers the registry's own Basic challenge.
        await client.GetManifestAsync("app", "missing-is-fine", CancellationToken.None).ContinueWith(_ => { });
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Host == "evil.test");
        AssertNoSecret(fake, FakeRegistry.StorageHost);
    }

    [Fact]
    public async Task Redirect_from_https_to_http_is_refused()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Basic };
        var layer = FakeRegistry.RandomBytes(2000);
        fake.AddBlob("app", layer);
        fake.Intercept = (req, _) =>
        {
            if (req.RequestUri!.Host == "registry.test" && req.RequestUri.AbsolutePath.Contains("/blobs/", StringComparison.Ordinal) && req.Headers.Authorization is not null)
            {
                var redirect = new HttpResponseMessage(HttpStatusCode.TemporaryRedirect);
                redirect.Headers.Location = new Uri($"http://{FakeRegistry.StorageHost}/app@{Digest.Of(layer)}?sig=SIGNATURE-SECRET");
                return Answer(redirect);
            }
            return PassOn();
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull,
            RegistryTestHelpers.Options(fake, environment: RegistryTestHelpers.Env(("DOTNET_CONTAINER_PULL_REGISTRY_UNAME", fake.User), ("DOTNET_CONTAINER_PULL_REGISTRY_PWORD", fake.Password))));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.OpenBlobAsync("app", Digest.Of(layer), layer.Length, CancellationToken.None));
        Assert.Equal(ErrorCodes.InsecureSchemeDowngrade, ex.Code);
        Assert.DoesNotContain("SIGNATURE-SECRET", ex.Message);
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Scheme == "http");
    }

    // ------------------------------------------------------------ 4. realms

    [Theory]
    [InlineData("http://registry.test/token")] // downgrade on the registry's own host
    [InlineData("https://127.0.0.1/token")] // a local listener named by a remote registry
    [InlineData("https://localhost:8080/token")]
    public async Task Realm_that_downgrades_or_points_at_loopback_is_refused(string realm)
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, Realm = realm };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, log, PushCredentials(fake)));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));

        Assert.Equal(ErrorCodes.UnsafeTokenRealm, ex.Code);
        Assert.Contains(new Uri(realm).GetLeftPart(UriPartial.Path), ex.Message);
        Assert.All(fake.Requests, r => Assert.Equal("registry.test", r.Uri.Host)); // the token service was never asked
        Assert.DoesNotContain(fake.Password, ex.Message + log.All);
    }

    [Fact]
    public async Task Plain_http_realm_on_another_host_gets_no_credentials_even_for_an_insecure_registry()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true, Realm = "http://auth.test/token" };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        var log = new CapturingLog();
        var env = RegistryTestHelpers.Env(
            ("DOTNET_CONTAINER_INSECURE_REGISTRIES", "registry.test"),
            ("DOTNET_CONTAINER_PULL_REGISTRY_UNAME", fake.User), ("DOTNET_CONTAINER_PULL_REGISTRY_PWORD", fake.Password));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake, log, env));

        var manifest = await client.GetManifestAsync("app", "v1", CancellationToken.None);

        Assert.Equal(Manifest, manifest.Content);
        var token = Assert.Single(fake.TokenRequests);
        Assert.Equal("http", token.Uri.Scheme);
        Assert.Null(token.Authorization);
        Assert.DoesNotContain("account=", token.Uri.Query);
        Assert.Contains("asking it anonymously", log.All);
    }

    [Fact]
    public async Task Https_realm_on_another_host_gets_the_credentials()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: PushCredentials(fake)));

        await client.PutManifestAsync("app", "v1", Manifest, MediaTypes.OciManifest, CancellationToken.None);

        Assert.Equal("Basic " + FakeRegistry.BasicValue(fake.User, fake.Password), Assert.Single(fake.TokenRequests).Authorization);
    }

    // ------------------------------------------------------------ 2. credential scope, through the client

    [Theory]
    [InlineData("DOTNET_CONTAINER_REGISTRY")]
    [InlineData("SDK_CONTAINER_REGISTRY")]
    [InlineData("DOTNET_CONTAINER_PUSH_REGISTRY")]
    public async Task Base_registry_elsewhere_never_sees_the_output_registry_credentials(string prefix)
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true };
        fake.AddManifest("dotnet/aspnet", "10.0", Manifest, MediaTypes.OciManifest);
        var env = RegistryTestHelpers.Env((prefix + "_UNAME", "ci-user"), (prefix + "_PWORD", "ci-secret-token"));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake, environment: env));

        await client.GetManifestAsync("dotnet/aspnet", "10.0", CancellationToken.None);

        Assert.All(fake.Requests, r => Assert.Null(r.Authorization is { } a && a.StartsWith("Basic", StringComparison.Ordinal) ? a : null));
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Query.Contains("ci-user", StringComparison.Ordinal));
        Assert.Single(fake.TokenRequests);
    }

    [Fact]
    public async Task Base_image_on_the_output_registry_gets_the_shared_variables()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer };
        fake.AddManifest("dotnet/aspnet", "10.0", Manifest, MediaTypes.OciManifest);
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_REGISTRY_UNAME", fake.User), ("DOTNET_CONTAINER_REGISTRY_PWORD", fake.Password));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.PullFromOutput, RegistryTestHelpers.Options(fake, environment: env));

        await client.GetManifestAsync("dotnet/aspnet", "10.0", CancellationToken.None);

        var token = Assert.Single(fake.TokenRequests);
        Assert.Equal("Basic " + FakeRegistry.BasicValue(fake.User, fake.Password), token.Authorization);
        Assert.Contains("scope=repository%3Adotnet%2Faspnet%3Apull", token.Uri.Query); // still a pull scope
    }

    // ------------------------------------------------------------ 7. bounded reads

    [Fact]
    public async Task Blob_announced_larger_than_its_descriptor_is_refused_at_once()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(5000);
        fake.AddBlob("app", layer);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.OpenBlobAsync("app", Digest.Of(layer), 4000, CancellationToken.None));

        Assert.Equal(ErrorCodes.BlobLargerThanDescriptor, ex.Code);
        Assert.Contains("5000", ex.Message);
        Assert.Contains("4000", ex.Message);
        Assert.Single(fake.RequestsTo("/blobs/")); // not retried
    }

    [Fact]
    public async Task Endless_blob_stream_stops_one_byte_past_the_descriptor_size()
    {
        var fake = new FakeRegistry();
        var endless = new EndlessStream();
        var digest = Digest.Of([1, 2, 3]);
        fake.Intercept = (req, _) => req.RequestUri!.AbsolutePath.Contains("/blobs/", StringComparison.Ordinal)
            ? Answer(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(endless) }) // chunked: no Content-Length
            : PassOn();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));
        const long size = 1_000_000;

        await using var stream = await client.OpenBlobAsync("app", digest, size, CancellationToken.None);
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => stream.CopyToAsync(Stream.Null));

        Assert.Equal(ErrorCodes.BlobLargerThanDescriptor, ex.Code);
        Assert.Contains(digest.Value, ex.Message);
        Assert.InRange(stream.Position, 0, size);
        Assert.InRange(endless.Served, size + 1, size + 1); // never asked for more than one byte past
    }

    [Fact]
    public async Task Blob_of_exactly_its_descriptor_size_reads_fine()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(100_000);
        fake.AddBlob("app", layer);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        await using var stream = await client.OpenBlobAsync("app", Digest.Of(layer), layer.Length, CancellationToken.None);
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);

        Assert.Equal(layer, copy.ToArray());
    }

    private sealed class EndlessStream : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)'x', offset, count);
            Served += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            buffer.Span.Fill((byte)'x');
            Served += buffer.Length;
            return ValueTask.FromResult(buffer.Length);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    // ------------------------------------------------------------ 9. malformed answers

    [Theory]
    [InlineData("1e12")]
    [InlineData("1e308")]
    [InlineData("\"1e12\"")]
    [InlineData("-5")]
    [InlineData("{\"a\":1}")]
    public async Task Any_token_lifetime_is_survived(string expiresIn)
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true, TokenBody = token => $"{{\"token\":\"{token}\",\"expires_in\":{expiresIn}}}" };
        fake.AddManifest("app", "v1", Manifest, MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        Assert.Equal(Manifest, (await client.GetManifestAsync("app", "v1", CancellationToken.None)).Content);
        Assert.Equal(Manifest, (await client.GetManifestAsync("app", "v1", CancellationToken.None)).Content);
        Assert.Single(fake.TokenRequests); // cached, whatever it claimed
    }

    [Theory]
    [InlineData("{\"token\":42}")]
    [InlineData("{\"token\":{\"x\":1}}")]
    [InlineData("[\"tok\"]")]
    [InlineData("\"tok\"")]
    [InlineData("not json")]
    public async Task Token_answer_of_the_wrong_shape_is_a_coded_error(string body)
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true, TokenBody = _ => body };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));

        Assert.Equal(ErrorCodes.AuthenticationFailed, ex.Code);
        Assert.Contains("without a token", ex.Message);
    }

    [Theory]
    [InlineData("Docker-Content-Digest", "sha512:0123456789abcdef")]
    [InlineData("Docker-Content-Digest", "sha256:XYZ")]
    [InlineData("Docker-Content-Digest", "")]
    [InlineData("Retry-After", "99999999999999999999999")]
    public async Task Odd_headers_on_a_manifest_do_not_break_the_read(string header, string value)
    {
        var fake = new FakeRegistry();
        fake.Intercept = (req, _) =>
        {
            var ok = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Manifest) };
            ok.Content.Headers.TryAddWithoutValidation("Content-Type", MediaTypes.OciManifest);
            ok.Headers.TryAddWithoutValidation(header, value);
            return Answer(ok);
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var manifest = await client.GetManifestAsync("app", "v1", CancellationToken.None);

        Assert.Equal(Digest.Of(Manifest), manifest.Digest);
    }

    [Theory]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":7}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":null,\"manifests\":{}}")]
    [InlineData("[1,2,3]")]
    public async Task Manifest_with_a_mistyped_media_type_is_read_without_a_raw_exception(string json)
    {
        var fake = new FakeRegistry();
        var bytes = Encoding.UTF8.GetBytes(json);
        fake.Intercept = (req, _) =>
        {
            var ok = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(bytes) };
            ok.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return Answer(ok);
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var manifest = await client.GetManifestAsync("app", "v1", CancellationToken.None);

        // The registry client only reports what it got; Oci/ parsing decides (with its own codes) whether it is an image.
        Assert.Equal(bytes, manifest.Content);
        Assert.False(string.IsNullOrEmpty(manifest.MediaType));
    }

    // ------------------------------------------------------------ 10. tags move one at a time

    private static async Task<(ZstdContainersException Error, FakeRegistry Fake)> PushTagsFailingAtAsync(string failingTag, Func<CancellationTokenSource, FakeRegistry, Func<HttpRequestMessage, int, Task<HttpResponseMessage?>>>? intercept = null)
    {
        var fake = new FakeRegistry();
        using var cts = new CancellationTokenSource();
        fake.Intercept = intercept?.Invoke(cts, fake) ?? ((req, _) =>
            req.Method == HttpMethod.Put && req.RequestUri!.AbsolutePath.EndsWith("/manifests/" + failingTag, StringComparison.Ordinal)
                ? Answer(FakeRegistry.Respond(HttpStatusCode.BadRequest, FakeRegistry.OciError("TAG_INVALID", "no such tag here")))
                : PassOn());
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        var pusher = new RegistryPusher(client, "app", new CapturingLog());
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => pusher.PushManifestAsync(Manifest, MediaTypes.OciManifest, ["1.2.3", "1.2", "latest"], cts.Token));
        return (ex, fake);
    }

    [Fact]
    public async Task Failure_between_tags_says_which_moved_and_which_did_not()
    {
        var (ex, fake) = await PushTagsFailingAtAsync("1.2");

        Assert.Equal(ErrorCodes.TagsPartiallyMoved, ex.Code);
        Assert.Contains("tags '1.2.3' now point to the new image", ex.Message);
        Assert.Contains("tags '1.2', 'latest' do not", ex.Message);
        Assert.Contains("ZSTDC3003", ex.Message); // the cause
        Assert.Equal(["/v2/app/manifests/1.2.3", "/v2/app/manifests/1.2"], fake.Requests.Where(r => r.Method == "PUT").Select(r => r.Uri.AbsolutePath));
        Assert.NotNull(fake.GetManifest("app", "1.2.3"));
        Assert.Null(fake.GetManifest("app", "latest"));
    }

    [Fact]
    public async Task Failure_at_the_first_tag_is_the_plain_error_nothing_moved()
    {
        var (ex, fake) = await PushTagsFailingAtAsync("1.2.3");

        Assert.Equal(ErrorCodes.RegistryError, ex.Code);
        Assert.Single(fake.Requests, r => r.Method == "PUT");
    }

    [Fact]
    public async Task Cancel_between_tags_says_which_moved()
    {
        var (ex, fake) = await PushTagsFailingAtAsync("none", (cts, _) => (req, _) =>
        {
            if (req.Method == HttpMethod.Put && req.RequestUri!.AbsolutePath.EndsWith("/manifests/1.2.3", StringComparison.Ordinal))
            {
                cts.Cancel(); // the user presses Ctrl+C while the first tag is being written
            }
            return PassOn();
        });

        Assert.Equal(ErrorCodes.TagsPartiallyMoved, ex.Code);
        Assert.Contains("'1.2.3' now point", ex.Message);
        Assert.Contains("'1.2', 'latest' do not", ex.Message);
        Assert.Contains("cancelled", ex.Message);
        Assert.Single(fake.Requests, r => r.Method == "PUT");
    }
}
