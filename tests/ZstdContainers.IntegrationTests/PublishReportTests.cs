using System.Text.Json.Nodes;

namespace ZstdContainers.IntegrationTests;

/// <summary>The publish report (issue 14.2) against what really reached the registry.</summary>
[Collection(RigCollection.Name)]
public sealed class PublishReportTests(PackageFixture package)
{
    [Fact]
    public async Task The_report_matches_the_pushed_manifest_and_the_job_summary_and_azure_command_are_written()
    {
        var project = await TestProject.CreateAsync(package, "report");
        var summary = Path.Combine(project.Directory, "step-summary.md");
        await File.WriteAllTextAsync(summary, "## an earlier step\n");
        var repository = "it/report-" + Guid.NewGuid().ToString("N")[..8];
        var env = new Dictionary<string, string?> { ["GITHUB_STEP_SUMMARY"] = summary, ["TF_BUILD"] = "True" };

        var result = await project.PublishAsync(repository, "v1", ["-p:ContainerLayerCompression=zstd"], env);
        result.EnsureSuccess("zstd publish");

        // next to the build output, not in the publish folder (whose files become the app layer)
        var reportPath = Assert.Single(Directory.GetFiles(Path.Combine(project.Directory, "bin"), "zstdcontainers-report.json", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(reportPath)!, "publish", "zstdcontainers-report.json")));
        Assert.Contains("publish report: " + reportPath, result.Output);
        var report = JsonNode.Parse(await File.ReadAllTextAsync(reportPath))!.AsObject();

        var (manifest, mediaType, digest) = await RegistryProbe.ManifestAsync(repository, "v1");
        Assert.Equal(digest, report["manifestDigest"]!.GetValue<string>());
        Assert.Equal(mediaType, report["manifestMediaType"]!.GetValue<string>());
        Assert.Equal($"{Rig.Registry}/{repository}@{digest}", report["imageByDigest"]!.GetValue<string>());
        Assert.Equal([$"{Rig.Registry}/{repository}:v1"], report["names"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("pushed", report["destination"]!.GetValue<string>());

        var layers = RegistryProbe.Layers(manifest).ToList();
        var reported = report["layers"]!.AsArray().Cast<JsonObject>().ToList();
        Assert.Equal(layers.Count, reported.Count);
        var config = await RegistryProbe.ConfigAsync(repository, manifest);
        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        for (var i = 0; i < layers.Count; i++)
        {
            Assert.Equal(layers[i]["digest"]!.GetValue<string>(), reported[i]["digest"]!.GetValue<string>());
            Assert.Equal(layers[i]["size"]!.GetValue<long>(), reported[i]["bytesPushed"]!.GetValue<long>());
            Assert.Equal(layers[i]["mediaType"]!.GetValue<string>(), reported[i]["mediaType"]!.GetValue<string>());
            Assert.Equal(diffIds[i], reported[i]["diffId"]!.GetValue<string>());
        }
        Assert.Equal(["base", "base", "base", "app"], reported.Select(l => l["origin"]!.GetValue<string>()));
        // a new repository: the app layer is new, so it went up; base layers were uploaded or mounted, never skipped silently
        Assert.Equal("uploaded", reported[^1]["transfer"]!.GetValue<string>());
        Assert.All(reported.Take(3), l => Assert.Contains(l["transfer"]!.GetValue<string>(), new[] { "uploaded", "mounted", "already present" }));
        Assert.All(reported.Take(3), l => Assert.True(l["bytesPulled"]!.GetValue<long>() > 0));
        Assert.Equal(manifest["config"]!["digest"]!.GetValue<string>(), report["config"]!["digest"]!.GetValue<string>());
        Assert.Equal(RegistryProbe.ImageBytes(manifest), report["totals"]!["bytesPushed"]!.GetValue<long>());
        Assert.Equal(reported.Sum(l => l["bytesSent"]!.GetValue<long>()) + (report["config"]!["transfer"]!.GetValue<string>() == "uploaded" ? report["config"]!["bytes"]!.GetValue<long>() : 0),
            report["totals"]!["bytesSent"]!.GetValue<long>());

        // GitHub Actions: appended after what was there, the image pinned by digest and one row per layer
        var md = await File.ReadAllTextAsync(summary);
        Assert.StartsWith("## an earlier step\n", md);
        Assert.Contains($"`{Rig.Registry}/{repository}@{digest}`", md);
        foreach (var layer in layers)
        {
            Assert.Contains("`" + layer["digest"]!.GetValue<string>()[..19] + "`", md);
        }
        Assert.Equal(layers.Count + 3, md.Split('\n').Count(l => l.StartsWith('|')));

        // Azure DevOps: the same Markdown written beside the report and uploaded by a logging command
        var mdPath = Path.Combine(Path.GetDirectoryName(reportPath)!, "zstdcontainers-report.md");
        Assert.Contains("##vso[task.uploadsummary]" + mdPath, result.Output);
        Assert.Contains(await File.ReadAllTextAsync(mdPath), md);
    }
}
