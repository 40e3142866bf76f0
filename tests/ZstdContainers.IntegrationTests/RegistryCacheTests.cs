using System.Net;
using ZstdContainers.IntegrationTests.Registry;

namespace ZstdContainers.IntegrationTests;

/// <summary>Issue 12: the registry as layer cache, on a real Distribution registry.</summary>
[Collection(RigCollection.Name)]
public sealed class RegistryCacheTests(PackageFixture package)
{
    [Fact]
    public async Task A_cold_cache_publish_downloads_recompresses_and_uploads_no_base_layer_the_registry_holds()
    {
        // Every request of the publish goes through the proxy, which records it: the base image and
        // the target repository are both reached through it.
        await using var proxy = new FaultProxy(IPEndPoint.Parse(Rig.Registry));
        var project = await TestProject.CreateAsync(package, "regcache");
        var repository = "it/regcache-" + Guid.NewGuid().ToString("N")[..8];
        string[] Properties(int baseLevel = 3) =>
        [
            "-p:ContainerLayerCompression=zstd",
            "-p:ContainerBaseLayerCompressionLevel=" + baseLevel,
            "-p:ContainerRegistry=" + proxy.Address,
            // A fresh, empty layer cache each time: a new CI runner.
            "-p:ContainerLayerCacheDirectory=" + Directory.CreateTempSubdirectory("zc-it-regcache-").FullName,
        ];
        var baseImage = proxy.Address + "/dotnet/aspnet:10.0";
        (await project.PublishAsync(repository, "v1", Properties(), baseImage: baseImage, useRegistry: false)).EnsureSuccess("first publish");
        var (index, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet", "10.0");
        var amd64 = index["manifests"]!.AsArray().First(m => m!["platform"]!["architecture"]!.GetValue<string>() == "amd64")!["digest"]!.GetValue<string>();
        var (baseManifest, _, _) = await RegistryProbe.ManifestAsync("dotnet/aspnet", amd64);
        var baseLayers = RegistryProbe.Layers(baseManifest).Select(l => l["digest"]!.GetValue<string>()).ToList();
        var (firstManifest, _, _) = await RegistryProbe.ManifestAsync(repository, "v1");
        var zstdBaseLayers = RegistryProbe.Layers(firstManifest).Take(baseLayers.Count).Select(l => l["digest"]!.GetValue<string>()).ToList();
        var firstCount = proxy.EventList.Count;
        Assert.Contains(proxy.EventList, e => e.Request.Method == "GET" && baseLayers.Any(d => e.Request.Path.EndsWith(d, StringComparison.Ordinal)));

        var second = await project.PublishAsync(repository, "v1", Properties(), baseImage: baseImage, useRegistry: false);

        second.EnsureSuccess("second publish");
        var events = proxy.EventList.Skip(firstCount).Select(e => e.Request).ToList();
        Assert.DoesNotContain(events, r => r.Method == "GET" && baseLayers.Any(d => r.Path.EndsWith(d, StringComparison.Ordinal)));
        Assert.DoesNotContain(events, r => r.IsBlobUploadBody && zstdBaseLayers.Contains(r.Digest ?? string.Empty));
        Assert.DoesNotContain(events, r => r.Method == "POST" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal) && zstdBaseLayers.Any(d => r.Query.Contains(d.Replace(":", "%3A", StringComparison.Ordinal), StringComparison.Ordinal)));
        var lines = second.Output.Split('\n');
        Assert.Equal(baseLayers.Count, lines.Count(l => l.Contains("base layer ", StringComparison.Ordinal) && l.Contains("zstd from the registry", StringComparison.Ordinal)));
        // The app's output did not change either: its layer is the registry's blob, not compressed again.
        Assert.Contains(lines, l => l.Contains("tar unchanged, zstd from the registry", StringComparison.Ordinal));
        var (secondManifest, _, _) = await RegistryProbe.ManifestAsync(repository, "v1");
        Assert.Equal(zstdBaseLayers, RegistryProbe.Layers(secondManifest).Take(baseLayers.Count).Select(l => l["digest"]!.GetValue<string>()));
        Assert.All(RegistryProbe.Layers(secondManifest), l =>
        {
            Assert.Equal("zstd", l["annotations"]!["io.github.zstdcontainers.compression"]!.GetValue<string>());
            Assert.Equal("3", l["annotations"]!["io.github.zstdcontainers.compression-level"]!.GetValue<string>());
        });

        // Another base level, again from an empty cache: the registry's level-3 blobs do not match, so the
        // base layers are downloaded and recompressed at level 4; the app layer (its level unchanged) is reused.
        var thirdCount = proxy.EventList.Count;
        var third = await project.PublishAsync(repository, "v1", Properties(baseLevel: 4), baseImage: baseImage, useRegistry: false);

        third.EnsureSuccess("publish at another base level");
        var thirdEvents = proxy.EventList.Skip(thirdCount).Select(e => e.Request).ToList();
        Assert.All(baseLayers, d => Assert.Contains(thirdEvents, r => r.Method == "GET" && r.Path.EndsWith(d, StringComparison.Ordinal)));
        var thirdLines = third.Output.Split('\n');
        Assert.DoesNotContain(thirdLines, l => l.Contains("base layer ", StringComparison.Ordinal) && l.Contains("zstd from the registry", StringComparison.Ordinal));
        // By now the project's obj/ record knows the unchanged publish folder (the first publish's
        // files may have been too fresh to record): the app layer is recognised without re-reading its files.
        Assert.Contains(thirdLines, l => l.Contains("app layer", StringComparison.Ordinal)
            && l.Contains("files unchanged since the last publish (recognised from obj/ record, not re-read), zstd from the registry", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(project.Directory, "obj", "zstdcontainers", "app-layers.json")));
        var (thirdManifest, _, _) = await RegistryProbe.ManifestAsync(repository, "v1");
        Assert.Equal(RegistryProbe.Layers(secondManifest).Last().ToJsonString(), RegistryProbe.Layers(thirdManifest).Last().ToJsonString());
        var thirdBase = RegistryProbe.Layers(thirdManifest).Take(baseLayers.Count).ToList();
        Assert.All(thirdBase, l => Assert.Equal("4", l["annotations"]!["io.github.zstdcontainers.compression-level"]!.GetValue<string>()));
        Assert.Empty(thirdBase.Select(l => l["digest"]!.GetValue<string>()).Intersect(zstdBaseLayers));
    }
}
