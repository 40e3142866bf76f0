using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using ZstdContainers.Building;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// Cancellation (what Ctrl+C in a build does to the task) mid-upload, through the core publisher in this process:
/// the base image from the rig's registry, the output to a registry behind a proxy that stalls the uploads.
/// </summary>
[Collection(RigCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RegistryCancellationTests
{
    private sealed class CollectingLog : IBuildLog
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Info(string message) => Lines.Enqueue(message);

        public void Detail(string message) => Lines.Enqueue(message);

        public void Warning(string code, string message) => Lines.Enqueue($"warning {code}: {message}");
    }

    [Fact]
    public async Task Cancelling_mid_upload_stops_within_seconds_and_leaves_no_temp_files_and_no_tag()
    {
        var root = Directory.CreateTempSubdirectory("zc-cancel-").FullName;
        var temp = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName;
        var cache = Path.Combine(root, "cache");
        var publish = Directory.CreateDirectory(Path.Combine(root, "publish")).FullName;
        await File.WriteAllTextAsync(Path.Combine(publish, "app.runtimeconfig.json"), "{}");
        // incompressible, so the app layer is a 16 MB upload that the proxy can stall part-way
        await File.WriteAllBytesAsync(Path.Combine(publish, "payload.bin"), RandomNumberGenerator.GetBytes(16 << 20));

        await using var registry = await RegistryServer.StartAsync("cancel");
        await using var proxy = new FaultProxy(registry.EndPoint, request =>
            request.IsBlobUploadBody && request.ContentLength > (4L << 20) ? FaultAction.StallAfter(1L << 20) : FaultAction.Pass);

        // The pipeline's temp files go to Path.GetTempPath(), which follows TMPDIR: point it at a folder of this test.
        var savedTmp = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", temp);
        try
        {
            Assert.StartsWith(temp, Path.GetTempPath(), StringComparison.Ordinal);
            var log = new CollectingLog();
            var publisher = new ContainerImagePublisher(new RegistryClientOptions { Log = log }, log);
            var request = new ImageRequest
            {
                BaseImage = new ImageReference(Rig.Registry, "dotnet/aspnet", "10.0"),
                RuntimeIdentifier = "linux-x64",
                PublishDirectory = publish,
                WorkingDirectory = "/app",
                Repository = "it/cancel",
                Tags = ["v1"],
                OutputRegistry = proxy.Address,
                AppCommand = ["dotnet", "app.dll"],
                // Base layers kept as they are: they live on another registry, so they are staged in temp files to
                // upload, which is the temp-file path this test is about.
                Compression = new CompressionOptions { UseZstd = true, RecompressBaseLayers = false, CacheDirectory = cache },
            };

            using var cts = new CancellationTokenSource();
            var publishing = publisher.PublishAsync(request, cts.Token);
            var stalled = await Task.WhenAny(proxy.Stalled.Task, publishing, Task.Delay(TimeSpan.FromMinutes(2)));
            Assert.True(stalled == proxy.Stalled.Task,
                "no upload reached the proxy's stall (publish " + (publishing.IsCompleted ? publishing.Exception?.GetBaseException().Message ?? "finished" : "still running") + ")\n"
                + string.Join("\n", log.Lines));
            await Task.Delay(500); // let the other uploads get going too

            // mid-upload the pipeline has its work folder in our temp: the check below can see leftovers
            var during = Directory.GetFileSystemEntries(temp, "zstdcontainers-*");
            Assert.NotEmpty(during);

            var clock = Stopwatch.StartNew();
            cts.Cancel();
            var cancelled = await Record.ExceptionAsync(() => publishing.WaitAsync(TimeSpan.FromSeconds(30)));
            clock.Stop();

            Assert.True(cancelled is OperationCanceledException, "expected cancellation, got: " + cancelled);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the publish took {clock.Elapsed.TotalSeconds:0.0} s to stop after cancellation");
            var left = Directory.GetFileSystemEntries(temp, "*", SearchOption.AllDirectories);
            Assert.True(left.Length == 0,
                $"left in TMPDIR after cancellation (during the upload there were: {string.Join(", ", during.Select(Path.GetFileName))}):\n" + string.Join("\n", left));
            if (Directory.Exists(cache))
            {
                var partial = Directory.GetFiles(cache, "*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".tmp", StringComparison.Ordinal) || f.Contains(".partial", StringComparison.Ordinal)).ToList();
                Assert.True(partial.Count == 0, "partial files left in the layer cache:\n" + string.Join("\n", partial));
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", savedTmp);
        }

        Assert.DoesNotContain(proxy.EventList, e => e.Request.IsManifestPut);
        Assert.Null(await registry.ManifestDigestAsync("it/cancel", "v1"));
        Directory.Delete(root, recursive: true);
    }
}
