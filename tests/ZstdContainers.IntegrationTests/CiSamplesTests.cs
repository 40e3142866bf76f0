namespace ZstdContainers.IntegrationTests;

/// <summary>
/// samples/ci/*.yml against their schemas: the GitHub workflow with @action-validator/cli (the
/// workflow schema GitHub publishes), the Azure pipeline with ajv against eng/ci-samples'
/// schema. Each check is also shown to fail on a sample with one key misspelt, so a pass means
/// something. The checkers come from npm through eng/install-deps.sh (eng/ci-samples' lockfile).
/// </summary>
public sealed class CiSamplesTests
{
    private static readonly string Checkers = Path.Combine(Rig.RepoRoot, "eng", "ci-samples");
    private static readonly string Samples = Path.Combine(Rig.RepoRoot, "samples", "ci");

    private static async Task<CommandResult> GitHubCheckAsync(string file) =>
        await Command.RunAsync(Tool("action-validator"), [file], Checkers);

    private static async Task<CommandResult> AzureCheckAsync(string file) =>
        await Command.RunAsync("node", [Path.Combine(Checkers, "check-azure-pipelines.mjs"), file], Checkers);

    private static string Tool(string name)
    {
        var path = Path.Combine(Checkers, "node_modules", ".bin", name);
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run eng/install-deps.sh (it runs npm ci in eng/ci-samples).");
    }

    private static string Misspelt(string sample, string key, string typo)
    {
        var text = File.ReadAllText(Path.Combine(Samples, sample));
        Assert.Contains(key, text);
        var path = Path.Combine(Directory.CreateTempSubdirectory("zc-ci-sample-").FullName, sample);
        File.WriteAllText(path, text.Replace(key, typo, StringComparison.Ordinal));
        return path;
    }

    [Fact]
    public async Task The_github_actions_sample_is_a_valid_workflow()
    {
        var result = await GitHubCheckAsync(Path.Combine(Samples, "github-actions.yml"));
        Assert.True(result.ExitCode == 0, result.Output);
    }

    [Fact]
    public async Task The_github_check_rejects_a_workflow_with_a_misspelt_key()
    {
        var result = await GitHubCheckAsync(Misspelt("github-actions.yml", "runs-on:", "runs_on:"));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Additional property 'runs_on' is not allowed", result.Output);
    }

    [Fact]
    public async Task The_azure_pipelines_sample_is_a_valid_pipeline()
    {
        var result = await AzureCheckAsync(Path.Combine(Samples, "azure-pipelines.yml"));
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("azure-pipelines.yml: valid", result.Output);
    }

    [Fact]
    public async Task The_azure_check_rejects_a_pipeline_with_a_misspelt_key()
    {
        var result = await AzureCheckAsync(Misspelt("azure-pipelines.yml", "displayName: Publish", "displayname: Publish"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("\"propertyName\":\"displayname\"", result.Output);
    }

    [Theory]
    [InlineData("github-actions.yml")]
    [InlineData("azure-pipelines.yml")]
    public void The_samples_show_the_registry_cache_and_reproducible_timestamps(string sample)
    {
        var text = File.ReadAllText(Path.Combine(Samples, sample));
        Assert.Contains("-p:ContainerLayerCompression=zstd", text);
        Assert.Contains("-p:ContainerLayerCacheFrom=", text);
        Assert.Contains("SOURCE_DATE_EPOCH", text);
        Assert.Contains("git log -1 --format=%ct", text);
        Assert.DoesNotContain("cache@", text, StringComparison.OrdinalIgnoreCase); // the registry is the cache
        Assert.Contains("zstdcontainers-report.json", text);
    }
}
