using System.IO.Compression;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ZstdSharp;

namespace ZstdContainers.IntegrationTests;

/// <summary>Reads what a publish left in the rig's registry, over plain HTTP, as any client would.</summary>
public static class RegistryProbe
{
    private static readonly HttpClient Http = new() { BaseAddress = new Uri("http://" + Rig.Registry + "/v2/") };

    public static async Task<(JsonObject Manifest, string MediaType, string Digest)> ManifestAsync(string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{repository}/manifests/{reference}");
        foreach (var type in new[] { "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                     "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json" })
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var bytes = await response.Content.ReadAsByteArrayAsync();
        return ((JsonObject)JsonNode.Parse(bytes)!, response.Content.Headers.ContentType!.MediaType!, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    public static async Task<byte[]> BlobAsync(string repository, string digest)
    {
        var bytes = await Http.GetByteArrayAsync($"{repository}/blobs/{digest}");
        Assert.Equal(digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
        return bytes;
    }

    public static async Task<JsonObject> ConfigAsync(string repository, JsonObject manifest) =>
        (JsonObject)JsonNode.Parse(await BlobAsync(repository, manifest["config"]!["digest"]!.GetValue<string>()))!;

    public static IEnumerable<JsonObject> Layers(JsonObject manifest) => manifest["layers"]!.AsArray().Cast<JsonObject>();

    /// <summary>sha256 of a layer's uncompressed tar, decompressing by its media type.</summary>
    public static async Task<string> DiffIdAsync(string repository, JsonObject layer)
    {
        var blob = await BlobAsync(repository, layer["digest"]!.GetValue<string>());
        var mediaType = layer["mediaType"]!.GetValue<string>();
        Stream tar = mediaType.EndsWith("zstd", StringComparison.Ordinal) ? new DecompressionStream(new MemoryStream(blob))
            : mediaType.EndsWith("gzip", StringComparison.Ordinal) ? new GZipStream(new MemoryStream(blob), CompressionMode.Decompress)
            : new MemoryStream(blob);
        using (tar)
        {
            return "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(tar));
        }
    }

    public static long ImageBytes(JsonObject manifest) =>
        manifest["config"]!["size"]!.GetValue<long>() + Layers(manifest).Sum(l => l["size"]!.GetValue<long>());
}

/// <summary>containerd through ctr: pull (it verifies digests and diff_ids while unpacking) and run.</summary>
public static class Containerd
{
    private static IEnumerable<string> Ctr(params string[] args) => ["-a", Rig.ContainerdAddress, .. args];

    public static async Task<CommandResult> PullAsync(string reference, string? platform = null)
    {
        await Command.RunAsync("ctr", Ctr("images", "rm", reference));
        var args = new List<string> { "images", "pull", "--plain-http", "--snapshotter", Rig.Snapshotter };
        if (platform is not null)
        {
            args.AddRange(["--platform", platform]);
        }
        args.Add(reference);
        return await Command.RunAsync("ctr", Ctr([.. args]), timeout: TimeSpan.FromMinutes(3));
    }

    public static async Task<CommandResult> RunAsync(string reference, params string[] commandArgs)
    {
        var id = "zc-it-" + Guid.NewGuid().ToString("N")[..10];
        var result = await Command.RunAsync("ctr", Ctr(["run", "--rm", "--snapshotter", Rig.Snapshotter, reference, id, .. commandArgs]), timeout: TimeSpan.FromMinutes(2));
        await Command.RunAsync("ctr", Ctr("images", "rm", reference));
        return result;
    }
}
