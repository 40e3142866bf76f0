using Xunit.Abstractions;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// A real publish through <see cref="FaultProxy"/> in front of a registry of the test's own: connections dropped
/// mid-upload and error statuses must be retried to success; uploads that always die must fail cleanly and leave
/// the tag on the previous complete image.
/// </summary>
[Collection(RigCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RegistryFaultTests(PackageFixture package, ITestOutputHelper testOutput)
{
    private const long CutBytes = 1L << 20;

    [Fact]
    public async Task Publish_through_a_proxy_that_drops_three_upload_connections_mid_body_succeeds_and_the_image_runs()
    {
        await using var registry = await RegistryServer.StartAsync("drops");
        // Three connections of one layer's upload are reset after 1 MiB of body: its first two single-request
        // PUTs (the client then switches that layer to chunks), then its first chunk after the first one (the
        // client must ask the registry where the upload stands and go on from there, or start over).
        string? victim = null;
        var cutPuts = 0;
        var cutPatches = 0;
        var gate = new object();
        await using var proxy = new FaultProxy(registry.EndPoint, request =>
        {
            if (!request.IsBlobUploadBody || request.ContentLength <= 2 * CutBytes)
            {
                return FaultAction.Pass;
            }
            lock (gate)
            {
                if (request.Method == "PUT" && request.Digest is { } digest)
                {
                    victim ??= digest;
                    if (digest == victim && cutPuts < 2)
                    {
                        cutPuts++;
                        return FaultAction.CutAfter(CutBytes);
                    }
                }
                if (request.Method == "PATCH" && cutPuts == 2 && cutPatches == 0 && request.ContentRange is { } range && !range.StartsWith("0-", StringComparison.Ordinal))
                {
                    cutPatches++;
                    return FaultAction.CutAfter(CutBytes);
                }
                return FaultAction.Pass;
            }
        });
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, proxy.Address, "it/drops", "v1", extraArguments: "-v:detailed");

        result.EnsureSuccess("publish through a proxy that drops connections");
        var events = proxy.EventList;
        Assert.Equal(3, events.Count(e => e.Action.StartsWith("cut", StringComparison.Ordinal)));
        Assert.Equal(1, cutPatches);
        Assert.Contains("retry 1 of", result.Output);           // the client's retry loop did the work
        Assert.Contains("switching to chunks", result.Output);  // after two interrupted single-request PUTs
        Assert.True(
            result.Output.Contains($"resuming {victim} at byte", StringComparison.Ordinal)
            || result.Output.Contains($"the upload session for {victim} is gone; starting a new one", StringComparison.Ordinal),
            "after the chunk was cut the client asked the registry how far the upload got");
        // the victim layer was completed by the closing PUT of its chunked upload
        Assert.Contains(events, e => e.Request.Method == "PUT" && e.Request.Digest == victim && !e.Request.IsBlobUploadBody && e.Status == 201);
        Assert.Contains(events, e => e.Request.IsManifestPut && e.Status == 201);

        // containerd checks every digest and diff_id while pulling
        var output = await RegistryTestKit.PullAndRunAsync($"{registry.Address}/it/drops:v1");
        Assert.Contains(TestProject.Greeting, output);
    }

    [Fact]
    public async Task Publish_through_a_proxy_that_answers_500_and_429_with_retry_after_succeeds()
    {
        await using var registry = await RegistryServer.StartAsync("statuses");
        var firstBlobPut = 0;
        var firstManifestPut = 0;
        await using var proxy = new FaultProxy(registry.EndPoint, request =>
        {
            if (request.Number <= 6)
            {
                return request.Number % 2 == 1
                    ? FaultAction.Respond(500)
                    : FaultAction.Respond(429, ("Retry-After", "1"));
            }
            if (request.IsBlobUploadBody && Interlocked.Exchange(ref firstBlobPut, 1) == 0)
            {
                return FaultAction.Respond(500);
            }
            if (request.IsManifestPut && Interlocked.Exchange(ref firstManifestPut, 1) == 0)
            {
                // Longer than any backoff the client would pick by itself for a first retry (at most 1 s).
                return FaultAction.Respond(429, ("Retry-After", "2"));
            }
            return FaultAction.Pass;
        });
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, proxy.Address, "it/statuses", "v1", extraArguments: "-v:detailed");

        result.EnsureSuccess("publish through a proxy that answers 500 and 429");
        var events = proxy.EventList;
        Assert.Equal(4, events.Count(e => e.Status == 500 && e.Action.StartsWith("respond", StringComparison.Ordinal)));
        Assert.Equal(4, events.Count(e => e.Status == 429 && e.Action.StartsWith("respond", StringComparison.Ordinal)));

        // the manifest went in only after the Retry-After of its 429 had passed
        var manifestPuts = events.Where(e => e.Request.IsManifestPut).ToList();
        Assert.Equal(2, manifestPuts.Count);
        Assert.Equal(429, manifestPuts[0].Status);
        Assert.Equal(201, manifestPuts[1].Status);
        var waited = manifestPuts[1].At - manifestPuts[0].At;
        Assert.True(waited >= TimeSpan.FromSeconds(1.8), $"the manifest was sent again {waited.TotalSeconds:0.00} s after a 429 with Retry-After: 2");

        // the blob PUT answered 500 was sent again and taken
        Assert.Contains(events, e => e.Request.Method == "PUT" && e.Request.IsBlobUploadBody && e.Status == 201);
        Assert.NotNull(await registry.ManifestDigestAsync("it/statuses", "v1"));
        (await RegistryTestKit.CtrPullAsync($"{registry.Address}/it/statuses:v1")).EnsureSuccess("ctr pull");
        await RegistryTestKit.CtrRemoveAsync($"{registry.Address}/it/statuses:v1");
    }

    [Fact]
    public async Task When_every_upload_dies_the_publish_fails_cleanly_and_the_tag_keeps_the_previous_image()
    {
        await using var registry = await RegistryServer.StartAsync("killed");
        await using var proxy = new FaultProxy(registry.EndPoint);
        // A project of its own: the second publish changes the program, so it has a new app layer to upload.
        var project = await TestProject.CreateAsync(package, "registry-killed-app");

        (await RegistryTestKit.PublishAsync(project, proxy.Address, "it/killed", "v1")).EnsureSuccess("first publish, through the proxy passing everything");
        var before = await registry.ManifestDigestAsync("it/killed", "v1");
        Assert.NotNull(before);

        await File.WriteAllTextAsync(Path.Combine(project.Directory, "Program.cs"), """Console.WriteLine("the second build, which must never be tagged");""");
        var uploadsKilled = 0;
        var manifestPuts = 0;
        proxy.Policy = request =>
        {
            if (request.IsManifestPut)
            {
                Interlocked.Increment(ref manifestPuts);
            }
            if (request.IsBlobUploadBody)
            {
                Interlocked.Increment(ref uploadsKilled);
                return FaultAction.CutAfter(Math.Min(64 * 1024, (request.ContentLength ?? 0) / 2));
            }
            return FaultAction.Pass;
        };

        var started = DateTime.UtcNow;
        var result = await RegistryTestKit.PublishAsync(project, proxy.Address, "it/killed", "v1", extraArguments: "-v:detailed");
        var elapsed = DateTime.UtcNow - started;

        RegistryTestKit.AssertCleanFailure(result, "ZSTDC3001");
        var error = RegistryTestKit.ErrorLine(result, "ZSTDC3001");
        Assert.Contains(proxy.Address, error);
        Assert.Contains("gave up after", error);
        // the registry was reached every time; the message says the connection broke, not that it was unreachable
        Assert.Contains("kept breaking", error);
        Assert.DoesNotContain("Could not reach", error);
        Assert.True(uploadsKilled > 1, "the proxy killed the uploads");
        Assert.Equal(0, manifestPuts); // nothing half-pushed: no manifest without its blobs
        testOutput.WriteLine($"failing publish: exit {result.ExitCode} after {elapsed.TotalSeconds:0.0} s, {uploadsKilled} uploads killed; {error}");
        Assert.True(elapsed < TimeSpan.FromMinutes(2), $"giving up took {elapsed.TotalSeconds:0} s");

        Assert.Equal(before, await registry.ManifestDigestAsync("it/killed", "v1"));
        var output = await RegistryTestKit.PullAndRunAsync($"{registry.Address}/it/killed:v1");
        Assert.Contains(TestProject.Greeting, output);
        Assert.DoesNotContain("second build", output);
    }

    [Fact]
    public async Task A_refused_upload_stops_a_base_layer_download_still_hanging_and_is_the_error_reported()
    {
        await using var registry = await RegistryServer.StartAsync("refused");
        // The base image through a proxy of its own, so one base layer's download can be made to hang.
        var (index, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet", "10.0");
        var amd64 = index["manifests"]!.AsArray().First(m => m!["platform"]!["architecture"]!.GetValue<string>() == "amd64")!["digest"]!.GetValue<string>();
        var (baseManifest, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet", amd64);
        var hanging = RegistryProbe.Layers(baseManifest).OrderByDescending(l => l["size"]!.GetValue<long>()).First()["digest"]!.GetValue<string>();
        await using var baseProxy = new FaultProxy(System.Net.IPEndPoint.Parse(Rig.Registry));
        await using var proxy = new FaultProxy(registry.EndPoint);
        var project = await TestProject.CreateAsync(package, "registry-refused-app");
        var cache = Path.Combine(package.WorkRoot, "cache-refused-" + Guid.NewGuid().ToString("N")[..8]);
        string[] arguments = ["-p:ContainerBaseImage=" + baseProxy.Address + "/dotnet/aspnet:10.0", "-p:ContainerLayerCacheDirectory=" + cache];
        (await RegistryTestKit.PublishAsync(project, proxy.Address, "it/refused-first", "v1", null, arguments)).EnsureSuccess("first publish, filling the layer cache");

        // The largest base layer leaves the cache, and its download hangs (the proxy never answers it):
        // it is not ready until the publish stops it. The other base layers come from the cache and
        // are uploaded at once, to a repository that does not have them, and the registry refuses.
        foreach (var record in Directory.GetFiles(Path.Combine(cache, "v1", "transcoded"), hanging[7..] + ".*"))
        {
            File.Delete(record);
        }
        baseProxy.Policy = request => request.Method == "GET" && request.Path.EndsWith(hanging, StringComparison.Ordinal) ? FaultAction.StallAfter(0) : FaultAction.Pass;
        var manifestPuts = 0;
        proxy.Policy = request =>
        {
            if (request.IsManifestPut)
            {
                Interlocked.Increment(ref manifestPuts);
            }
            if (request.Method == "POST" && request.Path.EndsWith("/blobs/uploads/", StringComparison.Ordinal))
            {
                // A gate: uploads are refused only once the base layer's download hangs.
                baseProxy.Stalled.Task.Wait(TimeSpan.FromMinutes(2));
                return FaultAction.Respond(400);
            }
            return FaultAction.Pass;
        };

        var started = DateTime.UtcNow;
        var result = await RegistryTestKit.PublishAsync(project, proxy.Address, "it/refused", "v1", null, arguments);
        var elapsed = DateTime.UtcNow - started;

        // The refusal is the error, not the download it stopped (left alone, that would give up after
        // the client's request timeout with a download error of its own).
        RegistryTestKit.AssertCleanFailure(result, "ZSTDC3003");
        var error = RegistryTestKit.ErrorLine(result, "ZSTDC3003");
        Assert.Contains("400", error);
        Assert.Contains("injected by the test proxy", error);
        Assert.Equal(["ZSTDC3003"], System.Text.RegularExpressions.Regex.Matches(result.Output, @"error (ZSTDC\d{4})").Select(m => m.Groups[1].Value).Distinct());
        Assert.Contains(baseProxy.EventList, e => e.Action.StartsWith("stalled", StringComparison.Ordinal));
        Assert.Equal(0, manifestPuts);
        Assert.Null(await registry.ManifestDigestAsync("it/refused", "v1"));
        testOutput.WriteLine($"refused publish: exit {result.ExitCode} after {elapsed.TotalSeconds:0.0} s; {error}");
    }

    [Fact]
    public async Task A_registry_port_where_nothing_listens_is_reported_as_unreachable_not_as_a_broken_connection()
    {
        // In process, on a real socket: the other half of ZSTDC3001's wording (the killed-uploads test has the first).
        var port = RegistryServer.FreePort(System.Net.IPAddress.Loopback);
        using var client = new ZstdContainers.Registry.RegistryClient($"127.0.0.1:{port}", ZstdContainers.Registry.RegistryAccess.Pull,
            new ZstdContainers.Registry.RegistryClientOptions { MaxRetries = 1, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => client.GetManifestAsync("it/nothing", "v1", CancellationToken.None));

        Assert.Equal(ErrorCodes.RegistryUnreachable, error.Code);
        Assert.StartsWith($"Could not reach registry '127.0.0.1:{port}'", error.Message);
        Assert.Contains("gave up after 2 attempts", error.Message);
    }
}
