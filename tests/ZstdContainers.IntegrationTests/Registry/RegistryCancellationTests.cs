using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Xunit.Abstractions;
using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// Cancellation (what Ctrl+C in a build does to the task) mid-upload, through the core publisher in this process:
/// the base image from the rig's registry, the output to a registry behind a proxy that stalls the uploads.
/// </summary>
[Collection(RigCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RegistryCancellationTests(ITestOutputHelper output)
{
    private sealed class CollectingLog : IBuildLog
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Info(string message) => Lines.Enqueue(message);

        public void Detail(string message) => Lines.Enqueue(message);

        public void Warning(string code, string message) => Lines.Enqueue($"warning {code}: {message}");
    }

    private sealed record Setup(string Root, string Temp, string Cache, string Publish);

    private static async Task<Setup> PrepareAsync()
    {
        var root = Directory.CreateTempSubdirectory("zc-cancel-").FullName;
        var setup = new Setup(root, Path.Combine(root, "tmp"), Path.Combine(root, "cache"), Path.Combine(root, "publish"));
        Directory.CreateDirectory(setup.Temp);
        Directory.CreateDirectory(setup.Publish);
        await File.WriteAllTextAsync(Path.Combine(setup.Publish, "app.runtimeconfig.json"), "{}");
        // incompressible, so the app layer is a 16 MB upload that a proxy can stall part-way
        await File.WriteAllBytesAsync(Path.Combine(setup.Publish, "payload.bin"), RandomNumberGenerator.GetBytes(16 << 20));
        return setup;
    }

    private static ImageRequest Request(Setup setup, string outputRegistry, bool recompressBaseLayers) => new()
    {
        BaseImage = new ImageReference(Rig.Registry, "dotnet/aspnet", "10.0"),
        RuntimeIdentifier = "linux-x64",
        PublishDirectory = setup.Publish,
        WorkingDirectory = "/app",
        Repository = "it/cancel",
        Tags = ["v1"],
        OutputRegistry = outputRegistry,
        AppCommand = ["dotnet", "app.dll"],
        Compression = new CompressionOptions { UseZstd = true, RecompressBaseLayers = recompressBaseLayers, CacheDirectory = setup.Cache },
    };

    /// <summary>
    /// Runs <paramref name="body"/> with TMPDIR (which Path.GetTempPath follows, and so the pipeline's temp files)
    /// pointing at the test's own folder, then restores it.
    /// </summary>
    private static async Task WithTempDirectoryAsync(string temp, Func<Task> body)
    {
        var saved = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", temp);
        try
        {
            Assert.StartsWith(temp, Path.GetTempPath(), StringComparison.Ordinal);
            await body();
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", saved);
        }
    }

    /// <summary>Nothing left in TMPDIR, and no half-written file in the layer cache's tmp folder.</summary>
    private static void AssertNothingLeft(Setup setup, string context)
    {
        var left = Directory.GetFileSystemEntries(setup.Temp, "*", SearchOption.AllDirectories);
        Assert.True(left.Length == 0, $"left in TMPDIR after cancellation ({context}):\n" + string.Join("\n", left));
        if (Directory.Exists(setup.Cache))
        {
            // (locks/*.lock stay by design: they are the cache's per-entry locks, not temp files)
            var partial = Directory.GetFiles(setup.Cache, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(setup.Cache, f))
                .Where(f => f.Split(Path.DirectorySeparatorChar).Contains("tmp")
                    || f.EndsWith(".tmp", StringComparison.Ordinal) || f.Contains(".partial", StringComparison.Ordinal))
                .ToList();
            Assert.True(partial.Count == 0, $"half-written files left in the layer cache ({context}):\n" + string.Join("\n", partial));
        }
    }

    [Fact]
    public async Task Cancelling_mid_upload_stops_within_seconds_and_leaves_no_temp_files_and_no_tag()
    {
        var setup = await PrepareAsync();
        await using var registry = await RegistryServer.StartAsync("cancel");
        await using var proxy = new FaultProxy(registry.EndPoint, request =>
            request.IsBlobUploadBody && request.ContentLength > (4L << 20) ? FaultAction.StallAfter(1L << 20) : FaultAction.Pass);

        await WithTempDirectoryAsync(setup.Temp, async () =>
        {
            var log = new CollectingLog();
            var options = new RegistryClientOptions { Log = log };
            var publisher = new ContainerImagePublisher(options, log);
            // Base layers kept as they are: they live on another registry, so they are staged in temp files to be
            // uploaded, which is the temp-file path this test is about.
            using var cts = new CancellationTokenSource();
            var publishing = publisher.PublishAsync(Request(setup, proxy.Address, recompressBaseLayers: false), new RegistrySink(proxy.Address, options, log), cts.Token);
            var stalled = await Task.WhenAny(proxy.Stalled.Task, publishing, Task.Delay(TimeSpan.FromMinutes(2)));
            Assert.True(stalled == proxy.Stalled.Task,
                "no upload reached the proxy's stall (publish " + (publishing.IsCompleted ? publishing.Exception?.GetBaseException().Message ?? "finished" : "still running") + ")\n"
                + string.Join("\n", log.Lines));
            await Task.Delay(500); // let the other uploads get going too

            // mid-upload the pipeline has its files in our TMPDIR, so the check below can see leftovers
            var during = Directory.GetFileSystemEntries(setup.Temp, "zstdcontainers-*");
            Assert.NotEmpty(during);

            var clock = Stopwatch.StartNew();
            cts.Cancel();
            var cancelled = await Record.ExceptionAsync(() => publishing.WaitAsync(TimeSpan.FromSeconds(30)));
            clock.Stop();

            output.WriteLine($"stopped {clock.ElapsedMilliseconds} ms after cancellation with {cancelled?.GetType().Name}; in TMPDIR during the upload: {string.Join(", ", during.Select(Path.GetFileName))}");
            Assert.True(cancelled is OperationCanceledException, "expected cancellation, got: " + cancelled);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the publish took {clock.Elapsed.TotalSeconds:0.0} s to stop after cancellation");
            AssertNothingLeft(setup, "during the upload there were: " + string.Join(", ", during.Select(Path.GetFileName)));
        });

        Assert.DoesNotContain(proxy.EventList, e => e.Request.IsManifestPut);
        Assert.Null(await registry.ManifestDigestAsync("it/cancel", "v1"));
        Directory.Delete(setup.Root, recursive: true);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(700)]
    [InlineData(1500)]
    public async Task Cancelling_at_any_moment_of_a_cold_cache_publish_stops_within_seconds_and_leaves_no_temp_files(int cancelAfterMilliseconds)
    {
        var setup = await PrepareAsync();
        await using var registry = await RegistryServer.StartAsync("cancel-any");

        await WithTempDirectoryAsync(setup.Temp, async () =>
        {
            var log = new CollectingLog();
            var options = new RegistryClientOptions { Log = log };
            var publisher = new ContainerImagePublisher(options, log);
            // Base layers recompressed into an empty cache: the moment may fall in the download, the transcoding,
            // the app layer or the upload.
            using var cts = new CancellationTokenSource();
            var publishing = publisher.PublishAsync(Request(setup, registry.Address, recompressBaseLayers: true), new RegistrySink(registry.Address, options, log), cts.Token);
            await Task.WhenAny(publishing, Task.Delay(cancelAfterMilliseconds));
            var clock = Stopwatch.StartNew();
            cts.Cancel();
            var outcome = await Record.ExceptionAsync(() => publishing.WaitAsync(TimeSpan.FromSeconds(30)));
            clock.Stop();

            output.WriteLine($"cancelled after {cancelAfterMilliseconds} ms, stopped {clock.ElapsedMilliseconds} ms later with {outcome?.GetType().Name ?? "no exception (finished)"}; last log line: {log.Lines.LastOrDefault()}");
            Assert.True(outcome is null or OperationCanceledException, "expected cancellation (or a finished publish), got: " + outcome);
            // A few seconds: cancelled during the base-layer transcoding, stopping took 0.5-2 s on this 2-core machine.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the publish took {clock.Elapsed.TotalSeconds:0.0} s to stop after cancellation");
            AssertNothingLeft(setup, $"cancelled after {cancelAfterMilliseconds} ms; the log ends with: {log.Lines.LastOrDefault()}");
        });

        Directory.Delete(setup.Root, recursive: true);
    }
}
