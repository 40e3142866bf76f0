namespace ZstdContainers.IntegrationTests;

/// <summary>
/// Packs ZstdContainers once per test run into a private feed, with a version no cache has seen,
/// so every test project restores exactly this build of the package.
/// </summary>
public sealed class PackageFixture : IAsyncLifetime
{
    public string Feed { get; } = Directory.CreateTempSubdirectory("zc-feed-").FullName;

    public string Version { get; } = "0.1.0-it." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");

    public string WorkRoot { get; } = Directory.CreateTempSubdirectory("zc-it-").FullName;

    /// <summary>A transcoding cache of our own, so tests see cold and warm publishes they control.</summary>
    public string CacheDirectory => Path.Combine(WorkRoot, "layer-cache");

    public async Task InitializeAsync()
    {
        var result = await Command.RunAsync("dotnet",
            ["pack", Path.Combine(Rig.RepoRoot, "src", "ZstdContainers.Tasks"), "-c", "Release", "-o", Feed, "-p:Version=" + Version, "-nologo"],
            timeout: TimeSpan.FromMinutes(5));
        result.EnsureSuccess("dotnet pack");
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Feed, recursive: true);
        Directory.Delete(WorkRoot, recursive: true);
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class RigCollection : ICollectionFixture<PackageFixture>
{
    // One collection: the tests share the pack, and they run one after another so two
    // `dotnet publish` runs never fight over the machine's two cores.
    public const string Name = "rig";
}
