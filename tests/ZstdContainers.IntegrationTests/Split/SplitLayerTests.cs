using Xunit.Abstractions;
using System.Formats.Tar;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ZstdContainers.IntegrationTests.Registry;

namespace ZstdContainers.IntegrationTests.Split;

/// <summary>
/// The publish folder split into layers by origin, through the packed package and `dotnet publish`:
/// layer contents for a framework-dependent and a self-contained app with real NuGet packages, a
/// user-defined ContainerLayer, a redeploy that uploads (and a containerd node pulls) only the
/// changed layer, and several RIDs handing every layer to the index.
/// </summary>
[Collection(RigCollection.Name)]
public sealed class SplitLayerTests(PackageFixture package, ITestOutputHelper output)
{
    private const int BaseLayers = 3; // the rig's stand-in dotnet/aspnet:10.0

    [Fact]
    public async Task A_framework_dependent_app_gets_its_own_layer_packages_prerelease_packages_and_app_and_containerd_runs_it()
    {
        const string items = """
            <None Include="assets/**" CopyToPublishDirectory="PreserveNewest" />
            <ContainerLayer Include="assets" Files="assets/**" After="base" />
            """;
        var project = await SplitTestKit.AppAsync(package, "split-fd", extraItems: items);
        Directory.CreateDirectory(Path.Combine(project.Directory, "assets"));
        await File.WriteAllBytesAsync(Path.Combine(project.Directory, "assets", "model.bin"), new byte[64 * 1024]);

        var result = await project.PublishAsync("it/split-fd", "v1", ["-p:ContainerLayerCompression=zstd"]);
        result.EnsureSuccess("zstd publish");

        var (manifest, _, _) = await RegistryProbe.ManifestAsync("it/split-fd", "v1");
        var layers = await SplitTestKit.AppLayerFilesAsync("it/split-fd", manifest, BaseLayers);
        Assert.Equal(4, layers.Count);
        Assert.Equal(["app/assets/model.bin"], layers[0]);
        Assert.Equal(["app/ZcSplit.Greeter.dll"], layers[1]);
        Assert.Equal(["app/ZcSplit.Nightly.dll"], layers[2]);
        Assert.Contains("app/app.dll", layers[3]);
        Assert.Contains("app/app.deps.json", layers[3]);
        Assert.DoesNotContain(layers[3], f => f.Contains("ZcSplit", StringComparison.Ordinal) || f.Contains("assets", StringComparison.Ordinal));

        var history = SplitTestKit.AddedHistory(await RegistryProbe.ConfigAsync("it/split-fd", manifest), 4);
        Assert.Contains("layer 'assets' (assets/**), 1 files", history[0]);
        Assert.Contains("NuGet packages ZcSplit.Greeter 1.0.0", history[1]);
        Assert.Contains("prerelease NuGet packages ZcSplit.Nightly 2.0.0-beta.1", history[2]);
        Assert.Contains("the app's own files", history[3]);
        Assert.Contains("app layer 'prerelease-packages' sha256:", result.Output);
        // The rig's registry outlives a test run, so a rerun finds these layers there already.
        Assert.Matches(@"app layers assets [^,]+ (uploaded|already there), packages [^,]+ (uploaded|already there), prerelease-packages [^,]+ (uploaded|already there), app [^,)]+ (uploaded|already there)\)", result.Output);

        (await Containerd.PullAsync($"{Rig.Registry}/it/split-fd:v1")).EnsureSuccess("ctr pull");
        var run = await Containerd.RunAsync($"{Rig.Registry}/it/split-fd:v1");
        run.EnsureSuccess("ctr run");
        Assert.Contains(SplitTestKit.PackageGreeting, run.Output);
    }

    [Fact]
    public async Task A_self_contained_redeploy_after_a_code_change_uploads_and_pulls_only_the_app_layer()
    {
        await using var registry = await RegistryServer.StartAsync("split-redeploy");
        await using var proxy = new FaultProxy(registry.EndPoint);
        var project = await SplitTestKit.AppAsync(package, "split-sc", "<RuntimeIdentifier>linux-x64</RuntimeIdentifier><SelfContained>true</SelfContained>");

        (await RegistryTestKit.PublishAsync(project, proxy.Address, "it/split-sc", "v1")).EnsureSuccess("v1 publish");
        var v1 = await ManifestAsync(registry, "it/split-sc", "v1");
        var v1Layers = Digests(v1);
        Assert.Equal(BaseLayers + 4, v1Layers.Count);
        var files = new List<List<string>>();
        foreach (var digest in v1Layers.Skip(BaseLayers))
        {
            files.Add(SplitTestKit.FilesOf(await BlobAsync(registry, "it/split-sc", digest)));
        }
        Assert.Contains("app/libcoreclr.so", files[0]);
        Assert.Contains("app/System.Private.CoreLib.dll", files[0]);
        Assert.DoesNotContain(files[0], f => f.Contains("ZcSplit", StringComparison.Ordinal) || f.StartsWith("app/app", StringComparison.Ordinal));
        Assert.Equal(["app/ZcSplit.Greeter.dll"], files[1]);
        Assert.Equal(["app/ZcSplit.Nightly.dll"], files[2]);
        Assert.Contains("app/app", files[3]); // the apphost
        Assert.Contains("app/app.dll", files[3]);
        Assert.DoesNotContain("app/libcoreclr.so", files[3]);

        // The one-line change, then the redeploy: count what goes up.
        await SplitTestKit.WriteProgramAsync(project, "v2");
        proxy.Events.Clear();
        var redeploy = await RegistryTestKit.PublishAsync(project, proxy.Address, "it/split-sc", "v2");
        redeploy.EnsureSuccess("v2 publish");
        var uploads = proxy.EventList.Where(e => e.Request.IsBlobUploadBody).ToList();
        var v2 = await ManifestAsync(registry, "it/split-sc", "v2");
        var v2Layers = Digests(v2);
        Assert.Equal(v1Layers.Take(BaseLayers + 3), v2Layers.Take(BaseLayers + 3));
        Assert.NotEqual(v1Layers[^1], v2Layers[^1]);
        Assert.Equal(
            new[] { v2Layers[^1], v2["config"]!["digest"]!.GetValue<string>() }.Order(StringComparer.Ordinal),
            uploads.Select(e => e.Request.Digest!).Distinct().Order(StringComparer.Ordinal));
        Assert.Matches(@"app layers runtime [^,]+ already there, packages [^,]+ already there, prerelease-packages [^,]+ already there, app [^,)]+ uploaded\)", redeploy.Output);
        var uploadedBytes = uploads.Sum(e => e.Request.ContentLength ?? 0);
        output.WriteLine($"redeploy uploaded {uploads.Count} blob bodies, {uploadedBytes} bytes, of a {Size(v2)} byte image");

        // A node that runs v1 fetches only the new layer and the config to run v2.
        var v1Ref = $"{proxy.Address}/it/split-sc:v1";
        var v2Ref = $"{proxy.Address}/it/split-sc:v2";
        await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "rm", v2Ref]);
        (await RegistryTestKit.CtrPullAsync(v1Ref)).EnsureSuccess("ctr pull v1");
        proxy.Events.Clear();
        (await RegistryTestKit.CtrPullAsync(v2Ref)).EnsureSuccess("ctr pull v2");
        var fetched = proxy.EventList
            .Where(e => e.Request.Method == "GET" && e.Request.Path.Contains("/blobs/sha256:", StringComparison.Ordinal))
            .Select(e => e.Request.Path[(e.Request.Path.LastIndexOf('/') + 1)..]).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { v2Layers[^1], v2["config"]!["digest"]!.GetValue<string>() }.Order(StringComparer.Ordinal), fetched);
        var run = await Containerd.RunAsync(v2Ref);
        run.EnsureSuccess("ctr run v2");
        Assert.Contains("app version v2", run.Output);
        Assert.Contains(SplitTestKit.PackageGreeting, run.Output);
        await Command.RunAsync("ctr", ["-a", Rig.ContainerdAddress, "images", "rm", v1Ref]);
    }

    [Fact]
    public async Task Several_rids_into_an_archive_carry_every_app_layer_of_every_image()
    {
        var project = await SplitTestKit.AppAsync(package, "split-multi", "<RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers>");
        var archive = Path.Combine(package.WorkRoot, "split-multi.tar");
        (await project.PublishAsync("it/split-multi", "v1", ["-p:ContainerLayerCompression=zstd", "-p:ContainerArchiveOutputPath=" + archive], useRegistry: false))
            .EnsureSuccess("multi-RID publish to archive");

        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var reader = new TarReader(File.OpenRead(archive)))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                using var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                blobs[entry.Name] = content.ToArray();
            }
        }
        JsonObject Blob(string digest) => (JsonObject)JsonNode.Parse(blobs["blobs/sha256/" + digest["sha256:".Length..]])!;
        var index = Blob(((JsonObject)JsonNode.Parse(blobs["index.json"])!)["manifests"]![0]!["digest"]!.GetValue<string>());
        var images = index["manifests"]!.AsArray().Select(m => Blob(m!["digest"]!.GetValue<string>())).ToList();
        Assert.Equal(2, images.Count);
        foreach (var image in images)
        {
            var layers = Digests(image);
            Assert.Equal(BaseLayers + 3, layers.Count);
            var app = layers.Skip(BaseLayers).Select(d => SplitTestKit.FilesOf(blobs["blobs/sha256/" + d["sha256:".Length..]])).ToList();
            Assert.Equal(["app/ZcSplit.Greeter.dll"], app[0]);
            Assert.Equal(["app/ZcSplit.Nightly.dll"], app[1]);
            Assert.Contains("app/app.dll", app[2]);
        }
    }

    private static List<string> Digests(JsonObject manifest) => [.. RegistryProbe.Layers(manifest).Select(l => l["digest"]!.GetValue<string>())];

    private static long Size(JsonObject manifest) => RegistryProbe.ImageBytes(manifest);

    private static async Task<JsonObject> ManifestAsync(RegistryServer registry, string repository, string tag)
    {
        using var http = registry.ProbeClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (JsonObject)JsonNode.Parse(await response.Content.ReadAsByteArrayAsync())!;
    }

    private static async Task<byte[]> BlobAsync(RegistryServer registry, string repository, string digest)
    {
        using var http = registry.ProbeClient();
        return await http.GetByteArrayAsync($"/v2/{repository}/blobs/{digest}");
    }
}
