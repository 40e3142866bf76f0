using System.Formats.Tar;
using System.Text.Json.Nodes;
using ZstdSharp;

namespace ZstdContainers.IntegrationTests.Split;

/// <summary>
/// What the split-layer tests share: two NuGet packages built here into a local folder feed (a
/// release one and a prerelease one, each with a real assembly the app calls), apps that reference
/// them, and readers for what a layer holds.
/// </summary>
internal static class SplitTestKit
{
    public const string Greeter = "ZcSplit.Greeter";
    public const string GreeterVersion = "1.0.0";
    public const string Nightly = "ZcSplit.Nightly";
    public const string NightlyVersion = "2.0.0-beta.1";
    public const string PackageGreeting = "greeting from a package layer";

    private static readonly SemaphoreSlim FeedLock = new(1, 1);
    private static readonly Dictionary<string, string> Feeds = [];

    /// <summary>A folder feed with both packages, packed once per test run.</summary>
    public static async Task<string> FeedAsync(PackageFixture package)
    {
        await FeedLock.WaitAsync();
        try
        {
            if (Feeds.TryGetValue(package.Version, out var existing))
            {
                return existing;
            }
            var feed = Path.Combine(package.WorkRoot, "split-feed");
            Directory.CreateDirectory(feed);
            await PackAsync(package, feed, Greeter, GreeterVersion, $$"""namespace ZcSplit; public static class Greeter { public static string Hello => "{{PackageGreeting}}"; }""");
            await PackAsync(package, feed, Nightly, NightlyVersion, """namespace ZcSplit; public static class Nightly { public static string Tag => "nightly"; }""");
            Feeds[package.Version] = feed;
            return feed;
        }
        finally
        {
            FeedLock.Release();
        }
    }

    private static async Task PackAsync(PackageFixture package, string feed, string id, string version, string code)
    {
        var dir = Path.Combine(package.WorkRoot, "split-packages", id);
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, id + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <PackageId>{id}</PackageId>
                <Version>{version}</Version>
                <Authors>tests</Authors>
              </PropertyGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(dir, "Code.cs"), code);
        (await Command.RunAsync("dotnet", ["pack", dir, "-c", "Release", "-o", feed, "-nologo"], timeout: TimeSpan.FromMinutes(4)))
            .EnsureSuccess("dotnet pack " + id);
    }

    /// <summary>
    /// A test project that references both packages from the local feed (and the package under
    /// test from its own): the program prints the package greeting and the app's own line.
    /// </summary>
    public static async Task<TestProject> AppAsync(PackageFixture package, string name, string extraProperties = "", string extraItems = "")
    {
        var feed = await FeedAsync(package);
        var project = await TestProject.CreateAsync(package, name, extraProperties);
        await File.WriteAllTextAsync(Path.Combine(project.Directory, "Directory.Build.targets"), $"""
            <Project>
              <ItemGroup>
                <PackageReference Include="{Greeter}" Version="{GreeterVersion}" />
                <PackageReference Include="{Nightly}" Version="{NightlyVersion}" />
                {extraItems}
              </ItemGroup>
            </Project>
            """);
        // Local folders only; the default sources stay.
        await File.WriteAllTextAsync(Path.Combine(project.Directory, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="zstdcontainers-under-test" value="{package.Feed}" />
                <add key="zstdcontainers-split-tests" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        await WriteProgramAsync(project, "v1");
        return project;
    }

    /// <summary>The app's code; a new <paramref name="version"/> is the one-line change of a redeploy.</summary>
    public static Task WriteProgramAsync(TestProject project, string version) =>
        File.WriteAllTextAsync(Path.Combine(project.Directory, "Program.cs"), $$"""
            Console.WriteLine("{{TestProject.Greeting}} " + ZcSplit.Greeter.Hello + " " + ZcSplit.Nightly.Tag);
            Console.WriteLine("app version {{version}}");
            """);

    /// <summary>The regular files and links a zstd layer holds, by path in the image.</summary>
    public static List<string> FilesOf(byte[] zstdBlob)
    {
        using var reader = new TarReader(new DecompressionStream(new MemoryStream(zstdBlob)));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType != TarEntryType.Directory)
            {
                names.Add(entry.Name);
            }
        }
        return names;
    }

    /// <summary>The files of each layer above the base's <paramref name="baseLayers"/>, bottom to top, from the rig's registry.</summary>
    public static async Task<List<List<string>>> AppLayerFilesAsync(string repository, JsonObject manifest, int baseLayers)
    {
        var files = new List<List<string>>();
        foreach (var layer in RegistryProbe.Layers(manifest).Skip(baseLayers))
        {
            files.Add(FilesOf(await RegistryProbe.BlobAsync(repository, layer["digest"]!.GetValue<string>())));
        }
        return files;
    }

    /// <summary>created_by of the history entries of the layers we added, bottom to top.</summary>
    public static List<string> AddedHistory(JsonObject config, int count) =>
        [.. config["history"]!.AsArray().TakeLast(count).Select(h => h!["created_by"]!.GetValue<string>())];
}
