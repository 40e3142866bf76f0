using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>
/// MSBuild stays at the edge: the core library names no MSBuild property, neither in the strings it
/// ships nor in its source (comments included). Its messages name settings by <see cref="UserSetting"/>.
/// </summary>
public sealed partial class CoreNamesNoPropertyTests
{
    // Container + an upper-case letter, as a whole word: ContainerRegistry, ContainerLayerCacheFrom…
    [GeneratedRegex(@"\bContainer[A-Z]\w*")]
    private static partial Regex ContainerWord();

    private static readonly HashSet<string> CoreTypeNames =
        [.. typeof(UserSetting).Assembly.GetTypes().Select(t => t.Name.Split('`')[0])];

    [Fact]
    public void The_core_assembly_ships_no_MSBuild_property_name_in_its_strings()
    {
        var strings = UserStrings(typeof(UserSetting).Assembly.Location);

        // The scan reads what it should: plenty of strings, among them ones we know are there.
        Assert.True(strings.Count > 200, $"only {strings.Count} user strings read");
        Assert.Contains(strings, s => s.Contains("zstd already, reused", StringComparison.Ordinal));
        Assert.Contains(strings, s => s.Contains("{setting:", StringComparison.Ordinal));

        var properties = UserSetting.All.Select(PropertyNames.Of).ToList();
        var offending = strings
            .Where(s => ContainerWord().Matches(s).Any(m => !CoreTypeNames.Contains(m.Value))
                || properties.Any(p => Regex.IsMatch(s, $@"\b{p}\b")))
            .ToList();
        Assert.Empty(offending);
    }

    [Fact]
    public void The_core_source_names_no_MSBuild_property_not_even_in_comments()
    {
        var core = Path.Combine(RepositoryRoot(), "src", "ZstdContainers");
        var files = Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.True(files.Count > 50, $"only {files.Count} source files under {core}");
        Assert.Contains(files, f => f.EndsWith("UserSetting.cs", StringComparison.Ordinal));

        var offending = files
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(core, f), Line: i + 1, Text: line)))
            .Where(l => ContainerWord().Matches(l.Text).Any(m => !CoreTypeNames.Contains(m.Value)))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.Empty(offending);
    }

    private static List<string> UserStrings(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var strings = new List<string>();
        for (var handle = MetadataTokens.UserStringHandle(1); !handle.IsNil; handle = metadata.GetNextHandle(handle))
        {
            strings.Add(metadata.GetUserString(handle));
        }
        return strings;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZstdContainers.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"No ZstdContainers.sln above {AppContext.BaseDirectory}.");
    }
}
