using System.Formats.Tar;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ZstdContainers.IntegrationTests.Registry;
using ZstdSharp;

namespace ZstdContainers.IntegrationTests;

/// <summary>Issue 15: zstd:chunked layers that podman pulls file by file and containerd runs as plain zstd.</summary>
[Collection(RigCollection.Name)]
public sealed partial class ZstdChunkedTests(PackageFixture package)
{
    private const string Repository = "it/chunked";

    [Fact]
    public async Task Podman_pulls_only_the_files_it_lacks_with_range_requests_and_containerd_runs_the_same_image()
    {
        await using var registry = await RegistryServer.StartAsync("chunked", new RegistryServer.Options { AccessLog = true });
        var project = await TestProject.CreateAsync(package, "chunked");
        // An unchanged megabyte next to the code that changes: v2 must not fetch it again.
        await File.WriteAllBytesAsync(Path.Combine(project.Directory, "data.bin"), RandomNumberGenerator.GetBytes(1 << 20));
        var csproj = await File.ReadAllTextAsync(project.ProjectFile);
        await File.WriteAllTextAsync(project.ProjectFile, csproj.Replace("</Project>",
            """<ItemGroup><None Include="data.bin" CopyToPublishDirectory="PreserveNewest" /></ItemGroup></Project>""", StringComparison.Ordinal));

        (await Publish(project, registry, "v1")).EnsureSuccess("publish v1");
        var v1 = await ManifestAsync(registry, "v1");
        Assert.All(Layers(v1), layer =>
        {
            Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", layer["mediaType"]!.GetValue<string>());
            var annotations = layer["annotations"]!.AsObject();
            Assert.NotNull(annotations["io.github.containers.zstd-chunked.manifest-checksum"]);
            Assert.NotNull(annotations["io.containers.zstd-chunked.manifest-position"]); // what podman 4.3 reads
        });

        using var podman = new PodmanStore(package.WorkRoot, "podman-chunked", partialPulls: true);
        var (firstPull, podmanLog) = await PullAsync(podman, registry, "v1");
        // Every layer came through range requests (206), none as a whole blob (200).
        foreach (var layer in Layers(v1))
        {
            var digest = layer["digest"]!.GetValue<string>();
            Assert.Contains(firstPull, r => r.Digest == digest && r.Status == 206);
            // When podman gives up on a partial pull it fetches the whole blob; its debug log says why.
            Assert.False(firstPull.Any(r => r.Digest == digest && r.Status == 200),
                $"podman fetched {digest} as a whole blob (200) instead of by ranges; podman said: " +
                string.Join(" | ", podmanLog.Split('\n').Where(l => l.Contains("partial", StringComparison.OrdinalIgnoreCase) && !l.Contains("Retrieved partial blob", StringComparison.Ordinal))));
        }
        await AssertUnpackedFilesMatchAsync(podman, registry, v1, "v1");

        await File.WriteAllTextAsync(Path.Combine(project.Directory, "Program.cs"),
            $"""Console.WriteLine("{TestProject.Greeting} v2 " + string.Join(' ', args));""");
        (await Publish(project, registry, "v2")).EnsureSuccess("publish v2");
        var v2 = await ManifestAsync(registry, "v2");
        var (secondPull, _) = await PullAsync(podman, registry, "v2");

        var appLayer = Layers(v2).Last();
        var appDigest = appLayer["digest"]!.GetValue<string>();
        var fetched = secondPull.Sum(r => r.Bytes);
        var imageBytes = v2["config"]!["size"]!.GetValue<long>() + Layers(v2).Sum(l => l["size"]!.GetValue<long>());
        Assert.All(Layers(v2).SkipLast(1), l => Assert.DoesNotContain(secondPull, r => r.Digest == l["digest"]!.GetValue<string>()));
        Assert.All(secondPull.Where(r => r.Digest == appDigest), r => Assert.Equal(206, r.Status));
        // The changed code is a few kB; the unchanged megabyte stays where it is.
        var appFetched = secondPull.Where(r => r.Digest == appDigest).Sum(r => r.Bytes);
        Assert.True(appFetched < appLayer["size"]!.GetValue<long>() / 10,
            $"v2 fetched {appFetched} bytes of its {appLayer["size"]} byte app layer");
        Assert.True(fetched <= imageBytes / 20, $"v2 fetched {fetched} bytes for an image of {imageBytes}");
        await AssertUnpackedFilesMatchAsync(podman, registry, v2, "v2");

        // skopeo (containers/image, as CRI-O and podman push) copies it as it is: same digests, same annotations
        var policy = Path.Combine(project.Directory, "policy.json");
        await File.WriteAllTextAsync(policy, """{"default":[{"type":"insecureAcceptAnything"}]}""");
        (await Command.RunAsync("skopeo", [
            "--policy", policy, "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
            $"docker://{registry.Address}/{Repository}:v2", $"docker://{registry.Address}/{Repository}-copy:v2"], timeout: TimeSpan.FromMinutes(3))).EnsureSuccess("skopeo copy");
        var copy = await ManifestAsync(registry, "v2", Repository + "-copy");
        Assert.Equal(v2["layers"]!.ToJsonString(), copy["layers"]!.ToJsonString());
        Assert.Equal(v2["config"]!.ToJsonString(), copy["config"]!.ToJsonString());

        (await Containerd.PullAsync($"{registry.Address}/{Repository}:v2")).EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{registry.Address}/{Repository}:v2");
        run.EnsureSuccess("ctr run");
        Assert.Contains(TestProject.Greeting + " v2", run.Output);
    }

    private static Task<CommandResult> Publish(TestProject project, RegistryServer registry, string tag) =>
        project.PublishAsync(Repository, tag,
            ["-p:ContainerRegistry=" + registry.Address, "-p:ContainerLayerCompression=zstd:chunked"],
            environment: new Dictionary<string, string?> { ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = Rig.Registry + "," + registry.Address },
            useRegistry: false);

    private static IEnumerable<JsonObject> Layers(JsonObject manifest) => manifest["layers"]!.AsArray().Cast<JsonObject>();

    private static async Task<JsonObject> ManifestAsync(RegistryServer registry, string tag, string repository = Repository)
    {
        using var http = registry.ProbeClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (JsonObject)JsonNode.Parse(await response.Content.ReadAsByteArrayAsync())!;
    }

    /// <summary>Pulls with podman; returns the registry's access log lines for that pull and podman's debug output.</summary>
    private static async Task<(List<Request> Requests, string PodmanLog)> PullAsync(PodmanStore podman, RegistryServer registry, string tag)
    {
        var logStart = registry.Log.Length;
        var pull = (await podman.RunAsync("--log-level=debug", "pull", "--tls-verify=false", $"{registry.Address}/{Repository}:{tag}")).EnsureSuccess("podman pull " + tag);
        await Task.Delay(TimeSpan.FromSeconds(1)); // the registry's log lines arrive through a pipe
        var requests = AccessLogLine().Matches(registry.Log[logStart..])
            .Select(m => new Request(m.Groups["path"].Value, int.Parse(m.Groups["status"].Value), long.Parse(m.Groups["bytes"].Value)))
            .ToList();
        return (requests, pull.Output);
    }

    private sealed record Request(string Path, int Status, long Bytes)
    {
        public string? Digest => BlobPath().Match(Path) is { Success: true } m ? m.Groups[1].Value : null;
    }

    [GeneratedRegex("\"GET (?<path>\\S+) HTTP/[0-9.]+\" (?<status>\\d{3}) (?<bytes>\\d+)")]
    private static partial Regex AccessLogLine();

    [GeneratedRegex("/blobs/(sha256:[0-9a-f]{64})$")]
    private static partial Regex BlobPath();

    /// <summary>
    /// Every regular file and symlink the image's layers hold, read with a plain zstd decoder and a tar
    /// reader (later layers win), must be in podman's unpacked image with the same content.
    /// </summary>
    private static async Task AssertUnpackedFilesMatchAsync(PodmanStore podman, RegistryServer registry, JsonObject manifest, string tag)
    {
        var expected = new Dictionary<string, (bool Link, string Value)>(StringComparer.Ordinal);
        using var http = registry.ProbeClient();
        foreach (var layer in Layers(manifest))
        {
            var blob = await http.GetByteArrayAsync($"/v2/{Repository}/blobs/{layer["digest"]!.GetValue<string>()}");
            using var reader = new TarReader(new DecompressionStream(new MemoryStream(blob)));
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                var name = Relative(entry.Name);
                switch (entry.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        expected[name] = (false, entry.DataStream is null ? Sha256([]) : Convert.ToHexStringLower(await SHA256.HashDataAsync(entry.DataStream)));
                        break;
                    case TarEntryType.HardLink:
                        expected[name] = expected[Relative(entry.LinkName)];
                        break;
                    case TarEntryType.SymbolicLink:
                        expected[name] = (true, entry.LinkName);
                        break;
                }
            }
        }

        var mount = (await podman.RunAsync("image", "mount", $"{registry.Address}/{Repository}:{tag}")).EnsureSuccess("podman image mount").Output.Trim();
        try
        {
            Assert.Contains("app/data.bin", expected.Keys);
            var mismatches = expected
                .Where(e => e.Value.Link
                    ? new FileInfo(Path.Combine(mount, e.Key)).LinkTarget != e.Value.Value
                    : !File.Exists(Path.Combine(mount, e.Key)) || Sha256(File.ReadAllBytes(Path.Combine(mount, e.Key))) != e.Value.Value)
                .Select(e => e.Key)
                .Take(10)
                .ToList();
            Assert.True(mismatches.Count == 0, $"{tag}: files that differ from the layers: {string.Join(", ", mismatches)}");
        }
        finally
        {
            await podman.RunAsync("image", "unmount", $"{registry.Address}/{Repository}:{tag}");
        }
    }

    private static string Relative(string tarName) =>
        (tarName.StartsWith("./", StringComparison.Ordinal) ? tarName[2..] : tarName).TrimStart('/').TrimEnd('/');

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
