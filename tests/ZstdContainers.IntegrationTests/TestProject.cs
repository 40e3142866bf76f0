namespace ZstdContainers.IntegrationTests;

/// <summary>A fresh console project that references the packed ZstdContainers from the private feed.</summary>
public sealed class TestProject
{
    public const string Greeting = "hello from a zstd layer";

    private TestProject(string directory, PackageFixture package)
    {
        Directory = directory;
        Package = package;
    }

    public string Directory { get; }

    public PackageFixture Package { get; }

    public string ProjectFile => Path.Combine(Directory, "app.csproj");

    public static async Task<TestProject> CreateAsync(PackageFixture package, string name, string extraProperties = "")
    {
        var dir = Path.Combine(package.WorkRoot, name);
        System.IO.Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                {extraProperties}
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ZstdContainers" Version="{package.Version}" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(dir, "Program.cs"), $$"""
            Console.WriteLine("{{Greeting}} " + string.Join(' ', args));
            Console.WriteLine("uid=" + Environment.GetEnvironmentVariable("APP_UID") + " cwd=" + Environment.CurrentDirectory);
            """);
        // Adds the private feed; the default sources stay (nothing is cleared).
        await File.WriteAllTextAsync(Path.Combine(dir, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="zstdcontainers-under-test" value="{package.Feed}" />
              </packageSources>
            </configuration>
            """);
        return new TestProject(dir, package);
    }

    /// <summary>`dotnet publish -t:PublishContainer` against the rig's registry and base image.</summary>
    public Task<CommandResult> PublishAsync(string repository, string tag, IEnumerable<string>? properties = null,
        IDictionary<string, string?>? environment = null, string? baseImage = null, bool useRegistry = true)
    {
        var args = new List<string>
        {
            "publish", ProjectFile, "-c", "Release", "-nologo", "-t:PublishContainer", "-v:n",
            "-p:ContainerBaseImage=" + (baseImage ?? Rig.BaseImage),
            "-p:ContainerRepository=" + repository,
            "-p:ContainerImageTag=" + tag,
            "-p:ContainerLayerCacheDirectory=" + Package.CacheDirectory,
        };
        if (useRegistry)
        {
            args.Add("-p:ContainerRegistry=" + Rig.Registry);
        }
        args.AddRange(properties ?? []);
        var env = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = Rig.Registry,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["MSBUILDTERMINALLOGGER"] = "off",
        };
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            env[k] = v;
        }
        return Command.RunAsync("dotnet", args, Directory, env, TimeSpan.FromMinutes(8));
    }
}
