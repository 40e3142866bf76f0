using System.Net;
using System.Net.Sockets;
using System.Text;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

public sealed class RegistryClientManifestTests
{
    private static readonly byte[] Index = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}""");

    [Fact]
    public async Task Get_manifest_sends_all_four_accept_types_and_returns_type_and_digest()
    {
        var fake = new FakeRegistry();
        fake.AddManifest("dotnet/aspnet", "10.0", Index, MediaTypes.OciIndex);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        var m = await client.GetManifestAsync("dotnet/aspnet", "10.0", CancellationToken.None);
        Assert.Equal(MediaTypes.OciIndex, m.MediaType);
        Assert.Equal(Digest.Of(Index), m.Digest);
        var accept = fake.Requests.Single().Headers["Accept"];
        foreach (var type in new[] { MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList })
        {
            Assert.Contains(type, accept);
        }
        Assert.Equal("https://registry.test/v2/dotnet/aspnet/manifests/10.0", fake.Requests.Single().Uri.ToString());

        var byDigest = await client.GetManifestAsync("dotnet/aspnet", Digest.Of(Index).Value, CancellationToken.None);
        Assert.Equal(Index, byDigest.Content);
    }

    [Fact]
    public async Task Media_type_falls_back_to_the_document_when_served_as_json()
    {
        var fake = new FakeRegistry();
        fake.AddManifest("a", "t", Index, "application/json");
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));
        Assert.Equal(MediaTypes.OciIndex, (await client.GetManifestAsync("a", "t", CancellationToken.None)).MediaType);
    }

    [Fact]
    public async Task Digest_reference_is_verified()
    {
        var fake = new FakeRegistry();
        var other = Digest.Of([1, 2, 3]);
        fake.Intercept = (req, _) =>
        {
            var r = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Index) };
            r.Content.Headers.ContentType = new(MediaTypes.OciIndex);
            return Task.FromResult<HttpResponseMessage?>(r);
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("a", other.Value, CancellationToken.None));
        Assert.Equal(ErrorCodes.DigestMismatch, ex.Code);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task Not_found_names_registry_repository_and_reference()
    {
        var fake = new FakeRegistry();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("dotnet/aspnet", "99.0", CancellationToken.None));
        Assert.Equal(ErrorCodes.BaseImageNotFound, ex.Code);
        Assert.Contains("registry.test/dotnet/aspnet:99.0", ex.Message);
        Assert.Contains("MANIFEST_UNKNOWN", ex.Message);

        var d = Digest.Of([9]);
        var ex2 = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("dotnet/aspnet", d.Value, CancellationToken.None));
        Assert.Contains("registry.test/dotnet/aspnet@" + d.Value, ex2.Message);
    }

    [Fact]
    public async Task Put_manifest_uses_the_media_type_and_returns_the_digest()
    {
        var fake = new FakeRegistry();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        var digest = await client.PutManifestAsync("team/app", "1.2.3", Index, MediaTypes.OciIndex, CancellationToken.None);
        Assert.Equal(Digest.Of(Index), digest);
        var put = fake.Requests.Single();
        Assert.Equal("PUT", put.Method);
        Assert.Equal(MediaTypes.OciIndex, put.Headers["Content-Type"]);
        Assert.Equal((Index, MediaTypes.OciIndex), fake.GetManifest("team/app", "1.2.3"));
    }

    [Theory]
    [InlineData("UPPER/case", "v1")]
    [InlineData("app", "bad tag")]
    [InlineData("app", "sha512:abc")]
    public async Task Bad_names_are_argument_errors(string repository, string reference)
    {
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(new FakeRegistry()));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetManifestAsync(repository, reference, CancellationToken.None));
    }

    [Fact]
    public async Task Insecure_registry_is_spoken_to_over_plain_http()
    {
        var fake = new FakeRegistry();
        fake.AddManifest("app", "v1", Index, MediaTypes.OciIndex);
        using var client = new RegistryClient("127.0.0.1:5077", RegistryAccess.Pull, RegistryTestHelpers.Options(fake));
        Assert.True(client.IsInsecure);
        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        Assert.All(fake.Requests, r => Assert.Equal("http", r.Uri.Scheme));
        Assert.Equal("http://127.0.0.1:5077/v2/app/manifests/v1", fake.Requests.Last().Uri.ToString());

        var listed = RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", "reg.corp:5000"));
        using var corp = new RegistryClient("reg.corp:5000", RegistryAccess.Pull, RegistryTestHelpers.Options(fake, environment: listed));
        await corp.GetManifestAsync("app", "v1", CancellationToken.None);
        Assert.Equal("http://reg.corp:5000/v2/app/manifests/v1", fake.Requests.Last().Uri.ToString());
    }

    [Fact]
    public async Task Insecure_registry_that_only_speaks_https_is_reached_over_https()
    {
        var fake = new FakeRegistry
        {
            Intercept = (req, _) => req.RequestUri!.Scheme == "http"
                ? Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.BadRequest, "Client sent an HTTP request to an HTTPS server.", "text/plain"))
                : Task.FromResult<HttpResponseMessage?>(null),
        };
        fake.AddManifest("app", "v1", Index, MediaTypes.OciIndex);
        var listed = RegistryTestHelpers.Env(("DOTNET_CONTAINER_INSECURE_REGISTRIES", "selfsigned.corp"));
        using var client = new RegistryClient("selfsigned.corp", RegistryAccess.Pull, RegistryTestHelpers.Options(fake, environment: listed));
        await client.GetManifestAsync("app", "v1", CancellationToken.None);
        Assert.Equal("https://selfsigned.corp/v2/app/manifests/v1", fake.Requests.Last().Uri.ToString());
    }

    [Fact]
    public async Task Unreachable_insecure_registry_is_not_probed_over_https()
    {
        var fake = new FakeRegistry
        {
            Intercept = (_, _) => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1:1)",
                new SocketException((int)SocketError.ConnectionRefused)),
        };
        using var client = new RegistryClient("127.0.0.1:1", RegistryAccess.Pull, RegistryTestHelpers.Options(fake) with { MaxRetries = 1 });
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("app", "v1", CancellationToken.None));
        Assert.Equal(ErrorCodes.RegistryUnreachable, ex.Code);
        Assert.All(fake.Requests, r => Assert.Equal("http", r.Uri.Scheme));
        Assert.Equal(3, fake.Requests.Count); // the ping, then two tries
    }

    [Fact]
    public async Task Forbidden_is_an_authentication_failure()
    {
        var fake = new FakeRegistry
        {
            Intercept = (_, _) => Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.Forbidden, FakeRegistry.OciError("DENIED", "requested access to the resource is denied"))),
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.PutManifestAsync("app", "v1", Index, MediaTypes.OciIndex, CancellationToken.None));
        Assert.Equal(ErrorCodes.AuthenticationFailed, ex.Code);
        Assert.Contains("403", ex.Message);
        Assert.Contains("requested access to the resource is denied", ex.Message);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task Docker_hub_requests_go_to_registry_1()
    {
        var fake = new FakeRegistry();
        fake.AddManifest("library/alpine", "3", Index, MediaTypes.OciIndex);
        using var client = new RegistryClient("docker.io", RegistryAccess.Pull, RegistryTestHelpers.Options(fake));
        await client.GetManifestAsync("library/alpine", "3", CancellationToken.None);
        Assert.Equal("registry-1.docker.io", fake.Requests.Single().Uri.Host);
    }
}

public sealed class RegistryClientBlobTests
{
    [Fact]
    public async Task Get_blob_verifies_digest_and_size()
    {
        var fake = new FakeRegistry();
        var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\"}");
        fake.AddBlob("app", config);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake));

        Assert.Equal(config, await client.GetBlobAsync("app", Digest.Of(config), 1 << 20, CancellationToken.None));

        var tooSmall = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetBlobAsync("app", Digest.Of(config), 5, CancellationToken.None));
        Assert.Equal(ErrorCodes.RegistryError, tooSmall.Code);

        fake.Intercept = (_, _) => Task.FromResult<HttpResponseMessage?>(new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([1, 2, 3]) });
        var mismatch = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetBlobAsync("app", Digest.Of(config), 1 << 20, CancellationToken.None));
        Assert.Equal(ErrorCodes.DigestMismatch, mismatch.Code);
    }

    [Fact]
    public async Task Blob_redirect_to_storage_drops_the_authorization_header()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, AnonymousPull = true, RedirectBlobs = true };
        var layer = FakeRegistry.RandomBytes(300_000);
        fake.AddBlob("app", layer);
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake, log));

        await using (var stream = await client.OpenBlobAsync("app", Digest.Of(layer), CancellationToken.None))
        {
            var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.Equal(layer, copy.ToArray());
        }
        var storage = fake.Requests.Where(r => r.Uri.Host == FakeRegistry.StorageHost).ToList();
        Assert.NotEmpty(storage);
        Assert.All(storage, r => Assert.Null(r.Authorization));
        Assert.Contains(fake.Requests, r => r.Uri.Host == "registry.test" && r.Authorization is not null);
        Assert.DoesNotContain("SIGNATURE-SECRET", log.All); // signed query strings are never logged
        Assert.True(await client.BlobExistsAsync("app", Digest.Of(layer), CancellationToken.None)); // HEAD follows too
    }

    [Fact]
    public async Task Open_blob_resumes_with_a_range_after_the_connection_drops()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(200_000);
        fake.AddBlob("app", layer);
        fake.Intercept = (req, n) =>
        {
            if (n != 1)
            {
                return Task.FromResult<HttpResponseMessage?>(null);
            }
            var r = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new RegistryClientRetryTests.BrokenStream(layer[..70_000])) };
            r.Content.Headers.ContentLength = layer.Length;
            return Task.FromResult<HttpResponseMessage?>(r);
        };
        var delays = new List<TimeSpan>();
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake, log, delays: delays));

        await using var stream = await client.OpenBlobAsync("app", Digest.Of(layer), CancellationToken.None);
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.Equal(layer, copy.ToArray());
        var second = fake.Requests.ElementAt(1);
        Assert.Equal("bytes=70000-", second.Headers["Range"]);
        Assert.Single(delays);
        Assert.Contains("resuming", log.All);
    }

    [Fact]
    public async Task Open_blob_gives_up_when_the_connection_keeps_dropping()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(50_000);
        fake.AddBlob("app", layer);
        fake.Intercept = (req, n) =>
        {
            var r = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new RegistryClientRetryTests.BrokenStream([])) };
            r.Content.Headers.ContentLength = layer.Length;
            return Task.FromResult<HttpResponseMessage?>(r);
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(fake) with { MaxRetries = 2 });
        await using var stream = await client.OpenBlobAsync("app", Digest.Of(layer), CancellationToken.None);
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Equal(ErrorCodes.RegistryUnreachable, ex.Code);
        Assert.Equal(3, fake.Requests.Count);
    }

    [Fact]
    public async Task Blob_exists_is_a_head()
    {
        var fake = new FakeRegistry();
        var blob = FakeRegistry.RandomBytes(10);
        fake.AddBlob("app", blob);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        Assert.True(await client.BlobExistsAsync("app", Digest.Of(blob), CancellationToken.None));
        Assert.False(await client.BlobExistsAsync("app", Digest.Of([1]), CancellationToken.None));
        Assert.All(fake.Requests, r => Assert.Equal("HEAD", r.Method));
    }

    [Fact]
    public async Task Mount_created_or_accepted_or_refused()
    {
        var fake = new FakeRegistry();
        var blob = FakeRegistry.RandomBytes(10);
        fake.AddBlob("base", blob);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));

        Assert.True(await client.TryMountBlobAsync("app", Digest.Of(blob), "base", CancellationToken.None));
        var post = fake.Requests.Single();
        Assert.Equal("POST", post.Method);
        Assert.Contains("mount=sha256%3A", post.Uri.Query);
        Assert.Contains("from=base", post.Uri.Query);

        // 202: the registry opened an upload instead; the session is cancelled.
        Assert.False(await client.TryMountBlobAsync("app2", Digest.Of([7]), "base", CancellationToken.None));
        Assert.Equal("DELETE", fake.Requests.Last().Method);
        Assert.Equal(0, fake.OpenSessions);

        // Not mountable: 404/405-style answers are just false.
        fake.Intercept = (_, _) => Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.MethodNotAllowed, FakeRegistry.OciError("UNSUPPORTED", "unsupported")));
        Assert.False(await client.TryMountBlobAsync("app3", Digest.Of(blob), "base", CancellationToken.None));
        fake.Intercept = (_, _) => Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.Forbidden, FakeRegistry.OciError("DENIED", "denied")));
        Assert.False(await client.TryMountBlobAsync("app3", Digest.Of(blob), "base", CancellationToken.None));
    }
}

public sealed class RegistryClientUploadTests
{
    private static Func<Stream> Opener(byte[] content, List<int>? opens = null, bool seekable = true) => () =>
    {
        opens?.Add(1);
        return seekable ? new MemoryStream(content, writable: false) : new NonSeekable(new MemoryStream(content, writable: false));
    };

    [Fact]
    public async Task Monolithic_upload_is_post_then_put_with_digest_and_content_length()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(100_000);
        var digest = Digest.Of(layer);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));

        await client.UploadBlobAsync("team/app", digest, layer.Length, Opener(layer, seekable: false), CancellationToken.None);

        Assert.Equal(layer, fake.GetBlob("team/app", digest));
        var requests = fake.Requests.ToList();
        Assert.Equal(["POST", "PUT"], requests.Select(r => r.Method));
        Assert.Equal("/v2/team/app/blobs/uploads/", requests[0].Uri.AbsolutePath);
        Assert.Contains("_state=abc%3D", requests[1].Uri.Query); // the Location's query is kept
        Assert.Contains("digest=sha256%3A" + digest.Hex, requests[1].Uri.Query);
        Assert.Equal("100000", requests[1].Headers["Content-Length"]);
        Assert.Equal("application/octet-stream", requests[1].Headers["Content-Type"]);
    }

    [Fact]
    public async Task Empty_blob_uploads()
    {
        var fake = new FakeRegistry();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        await client.UploadBlobAsync("app", Digest.Of([]), 0, Opener([]), CancellationToken.None);
        Assert.True(fake.HasBlob("app", Digest.Of([])));
    }

    [Fact]
    public async Task Chunk_min_length_from_the_registry_means_chunks_of_at_least_that()
    {
        var fake = new FakeRegistry { ChunkMinLength = 40_000 };
        var layer = FakeRegistry.RandomBytes(100_000);
        var digest = Digest.Of(layer);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake) with { ChunkSize = 10_000 });

        await client.UploadBlobAsync("app", digest, layer.Length, Opener(layer), CancellationToken.None);

        Assert.Equal(layer, fake.GetBlob("app", digest));
        var patches = fake.Requests.Where(r => r.Method == "PATCH").ToList();
        Assert.Equal([40_000L, 40_000L, 20_000L], patches.Select(p => p.BodyLength));
        Assert.Equal(["0-39999", "40000-79999", "80000-99999"], patches.Select(p => p.Headers["Content-Range"]));
        var close = fake.Requests.Last();
        Assert.Equal("PUT", close.Method);
        Assert.Equal(0, close.BodyLength);
        Assert.Contains("_state=next", close.Uri.Query); // each PATCH's Location is followed
    }

    [Fact]
    public async Task Monolithic_put_refused_with_413_switches_to_chunks()
    {
        var fake = new FakeRegistry { MaxBodyBytes = 30_000 };
        var layer = FakeRegistry.RandomBytes(100_000);
        var digest = Digest.Of(layer);
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, log) with { ChunkSize = 25_000 });

        await client.UploadBlobAsync("app", digest, layer.Length, Opener(layer), CancellationToken.None);
        Assert.Equal(layer, fake.GetBlob("app", digest));
        Assert.Equal(4, fake.Requests.Count(r => r.Method == "PATCH"));
        Assert.Contains("413", log.All);
        Assert.Equal(0, fake.OpenSessions); // the refused session was cancelled

        // The client remembers: the next upload goes straight to chunks.
        var second = FakeRegistry.RandomBytes(50_000, seed: 2);
        var before = fake.Requests.Count;
        await client.UploadBlobAsync("app", Digest.Of(second), second.Length, Opener(second), CancellationToken.None);
        Assert.DoesNotContain(fake.Requests.Skip(before), r => r.Method == "PUT" && r.BodyLength > 0);
    }

    [Fact]
    public async Task Chunk_refused_with_413_is_halved()
    {
        var fake = new FakeRegistry { MaxBodyBytes = 70_000 };
        var layer = FakeRegistry.RandomBytes(200_000);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake) with { ForceChunkedUpload = true, ChunkSize = 128_000 });
        await client.UploadBlobAsync("app", Digest.Of(layer), layer.Length, Opener(layer), CancellationToken.None);
        Assert.Equal(layer, fake.GetBlob("app", Digest.Of(layer)));
        Assert.Equal([128_000L, 65_536L, 65_536L, 65_536L, 3_392L], // halved, but never below 64 KiB
             fake.Requests.Where(r => r.Method == "PATCH").Select(r => r.BodyLength));
    }

    [Fact]
    public async Task Force_chunked_comes_from_the_sdk_variable()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(30_000);
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD", "true"), ("DOTNET_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES", "70000"));
        var fromEnvironment = RegistryClientOptions.FromSdkEnvironment(new CapturingLog(), env);
        Assert.Equal((true, 70000), (fromEnvironment.ForceChunkedUpload, fromEnvironment.ChunkSize));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push,
            RegistryTestHelpers.Options(fake, environment: env) with { ForceChunkedUpload = fromEnvironment.ForceChunkedUpload, ChunkSize = fromEnvironment.ChunkSize });
        await client.UploadBlobAsync("app", Digest.Of(layer), layer.Length, Opener(layer), CancellationToken.None);
        Assert.Single(fake.Requests, r => r.Method == "PATCH");
    }

    [Fact]
    public void Sdk_upload_variables_are_read_at_the_edge_only()
    {
        var env = RegistryTestHelpers.Env(("SDK_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD", "1"), ("SDK_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES", "12345"));
        var options = RegistryClientOptions.FromSdkEnvironment(new CapturingLog(), env);
        Assert.Equal((true, 12345), (options.ForceChunkedUpload, options.ChunkSize));
        Assert.Same(env, options.Environment);

        var none = RegistryClientOptions.FromSdkEnvironment(new CapturingLog(), RegistryTestHelpers.Env(("DOTNET_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES", "-4")));
        Assert.Equal((false, (int?)null), (none.ForceChunkedUpload, none.ChunkSize));
    }

    [Fact]
    public async Task Variables_in_the_environment_snapshot_alone_do_not_change_uploads()
    {
        // The client takes its settings from the options object only: the variables matter through FromSdkEnvironment.
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(30_000);
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD", "true"));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: env));
        await client.UploadBlobAsync("app", Digest.Of(layer), layer.Length, Opener(layer), CancellationToken.None);
        Assert.DoesNotContain(fake.Requests, r => r.Method == "PATCH");
    }

    [Fact]
    public async Task Interrupted_chunked_upload_resumes_from_the_registry_range()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(100_000);
        var digest = Digest.Of(layer);
        var patches = 0;
        fake.Intercept = (req, _) =>
        {
            if (req.Method.Method == "PATCH" && Interlocked.Increment(ref patches) == 3)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection reset by peer", new SocketException((int)SocketError.ConnectionReset));
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };
        var opens = new List<int>();
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push,
            RegistryTestHelpers.Options(fake, log) with { ForceChunkedUpload = true, ChunkSize = 20_000 });

        await client.UploadBlobAsync("app", digest, layer.Length, Opener(layer, opens, seekable: false), CancellationToken.None);

        Assert.Equal(layer, fake.GetBlob("app", digest));
        Assert.Single(fake.Requests, r => r.Method == "POST"); // same session
        Assert.Single(fake.Requests, r => r.Method == "GET"); // asked where to continue
        var ranges = fake.Requests.Where(r => r.Method == "PATCH").Select(r => r.Headers["Content-Range"]).ToList();
        Assert.Equal(["0-19999", "20000-39999", "40000-59999", "40000-59999", "60000-79999", "80000-99999"], ranges);
        Assert.Contains("resuming", log.All);
        Assert.Equal(2, opens.Count); // a non-seekable source is opened again and skipped forward
    }

    [Fact]
    public async Task Lost_session_restarts_cleanly()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(60_000);
        var digest = Digest.Of(layer);
        var patches = 0;
        fake.Intercept = (req, _) =>
        {
            if (req.Method.Method == "PATCH" && Interlocked.Increment(ref patches) == 2)
            {
                return Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.ServiceUnavailable));
            }
            if (req.Method == HttpMethod.Get && req.RequestUri!.AbsolutePath.Contains("/uploads/"))
            {
                return Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.NotFound, FakeRegistry.OciError("BLOB_UPLOAD_UNKNOWN", "gone")));
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push,
            RegistryTestHelpers.Options(fake) with { ForceChunkedUpload = true, ChunkSize = 20_000 });
        await client.UploadBlobAsync("app", digest, layer.Length, Opener(layer), CancellationToken.None);
        Assert.Equal(layer, fake.GetBlob("app", digest));
        Assert.Equal(2, fake.Requests.Count(r => r.Method == "POST"));
    }

    [Fact]
    public async Task Failed_monolithic_put_restarts_with_a_new_session_and_reopens_the_content()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(50_000);
        var digest = Digest.Of(layer);
        var puts = 0;
        fake.Intercept = (req, _) => req.Method == HttpMethod.Put && Interlocked.Increment(ref puts) == 1
            ? Task.FromResult<HttpResponseMessage?>(FakeRegistry.Respond(HttpStatusCode.BadGateway))
            : Task.FromResult<HttpResponseMessage?>(null);
        var opens = new List<int>();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        await client.UploadBlobAsync("app", digest, layer.Length, Opener(layer, opens, seekable: false), CancellationToken.None);
        Assert.Equal(layer, fake.GetBlob("app", digest));
        Assert.Equal(["POST", "PUT", "DELETE", "POST", "PUT"], fake.Requests.Select(r => r.Method));
        Assert.Equal(2, opens.Count);
        Assert.Equal(0, fake.OpenSessions);
    }

    [Fact]
    public async Task Single_request_upload_that_keeps_dropping_switches_to_resumable_chunks()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(100_000);
        var digest = Digest.Of(layer);
        fake.Intercept = (req, _) => req.Method == HttpMethod.Put && req.Content?.Headers.ContentLength > 0
            ? throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection reset by peer", new SocketException((int)SocketError.ConnectionReset))
            : Task.FromResult<HttpResponseMessage?>(null);
        var log = new CapturingLog();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, log) with { ChunkSize = 40_000 });
        await client.UploadBlobAsync("app", digest, layer.Length, Opener(layer), CancellationToken.None);
        Assert.Equal(layer, fake.GetBlob("app", digest));
        Assert.Equal(2, fake.Requests.Count(r => r.Method == "PUT" && r.BodyLength > 0));
        Assert.Equal(3, fake.Requests.Count(r => r.Method == "PATCH"));
        Assert.Contains("switching to chunks", log.All);
    }

    [Fact]
    public async Task Wrong_digest_is_a_digest_mismatch_not_retried()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(1000);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.UploadBlobAsync("app", Digest.Of([1]), layer.Length, Opener(layer), CancellationToken.None));
        Assert.Equal(ErrorCodes.DigestMismatch, ex.Code);
        Assert.Single(fake.Requests, r => r.Method == "PUT");
    }

    [Fact]
    public async Task Content_shorter_than_its_size_is_a_coded_error_not_a_retry()
    {
        var fake = new FakeRegistry();
        var layer = FakeRegistry.RandomBytes(1000);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => client.UploadBlobAsync("app", Digest.Of(layer), 2000, Opener(layer), CancellationToken.None));
        Assert.Equal(ErrorCodes.UploadContentInvalid, ex.Code);
        Assert.Single(fake.Requests, r => r.Method == "POST");
    }

    [Fact]
    public async Task Content_that_fails_to_open_is_not_retried()
    {
        var fake = new FakeRegistry();
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake));
        await Assert.ThrowsAsync<FileNotFoundException>(() => client.UploadBlobAsync("app", Digest.Of([1]), 1, () => throw new FileNotFoundException("gone", "/tmp/x"), CancellationToken.None));
        Assert.Single(fake.Requests, r => r.Method == "POST");
    }

    [Fact]
    public async Task Parallel_uploads_are_limited_and_all_land()
    {
        var fake = new FakeRegistry { Auth = FakeRegistry.AuthMode.Bearer, UploadDelayMs = 30 };
        var env = RegistryTestHelpers.Env(("DOTNET_CONTAINER_PUSH_REGISTRY_UNAME", fake.User), ("DOTNET_CONTAINER_PUSH_REGISTRY_PWORD", fake.Password));
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Push, RegistryTestHelpers.Options(fake, environment: env) with { MaxParallelUploads = 2 });
        var layers = Enumerable.Range(1, 6).Select(i => FakeRegistry.RandomBytes(20_000 + i, seed: i)).ToList();

        await Task.WhenAll(layers.Select(l => client.UploadBlobAsync("app", Digest.Of(l), l.Length, Opener(l), CancellationToken.None)));

        Assert.All(layers, l => Assert.True(fake.HasBlob("app", Digest.Of(l))));
        Assert.InRange(fake.MaxConcurrentUploads, 1, 2);
        Assert.Single(fake.TokenRequests);
    }

    private sealed class NonSeekable(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
