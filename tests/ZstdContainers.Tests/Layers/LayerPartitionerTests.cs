using System.Formats.Tar;
using System.Security.Cryptography;
using ZstdContainers.Layers;

namespace ZstdContainers.Tests.Layers;

public sealed class LayerPartitionerTests : IDisposable
{
    // The shape the SDK writes for a self-contained linux-x64 publish (trimmed to a few assets).
    private const string SelfContainedDeps = """
        {
          "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-x64", "signature": "" },
          "targets": {
            ".NETCoreApp,Version=v10.0": {},
            ".NETCoreApp,Version=v10.0/linux-x64": {
              "MyApp/1.0.0": { "dependencies": { "Lib": "1.0.0" }, "runtime": { "MyApp.dll": {} } },
              "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.12": {
                "runtime": { "System.Private.CoreLib.dll": {}, "System.Runtime.dll": {} },
                "native": { "libcoreclr.so": {}, "createdump": {} }
              },
              "Humanizer.Core/2.14.1": { "runtime": { "lib/net6.0/Humanizer.dll": {} } },
              "Humanizer.Core.de/2.14.1": { "resources": { "lib/net6.0/de/Humanizer.resources.dll": { "locale": "de" } } },
              "System.CommandLine/2.0.0-beta4.22272.1": {
                "runtime": { "lib/net6.0/System.CommandLine.dll": {} },
                "resources": { "lib/net6.0/de/System.CommandLine.resources.dll": { "locale": "de" } }
              },
              "Lib/1.0.0": { "runtime": { "Lib.dll": {} } }
            }
          },
          "libraries": {
            "MyApp/1.0.0": { "type": "project" },
            "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.12": { "type": "runtimepack" },
            "Humanizer.Core/2.14.1": { "type": "package" },
            "Humanizer.Core.de/2.14.1": { "type": "package" },
            "System.CommandLine/2.0.0-beta4.22272.1": { "type": "package" },
            "Lib/1.0.0": { "type": "project" }
          }
        }
        """;

    private static readonly string[] SelfContainedFiles =
    [
        "MyApp", "MyApp.dll", "MyApp.pdb", "MyApp.deps.json", "MyApp.runtimeconfig.json",
        "System.Private.CoreLib.dll", "System.Runtime.dll", "libcoreclr.so", "createdump",
        "Humanizer.dll", "de/Humanizer.resources.dll", "System.CommandLine.dll", "de/System.CommandLine.resources.dll",
        "Lib.dll", "Lib.pdb", "wwwroot/css/site.css",
    ];

    private readonly string _root = Directory.CreateTempSubdirectory("zc-split-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Folder(string name, string? deps, params string[] files)
    {
        var dir = Path.Combine(_root, name);
        Directory.CreateDirectory(dir);
        foreach (var file in files)
        {
            var path = Path.Combine(dir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "content of " + file);
        }
        if (deps is not null)
        {
            File.WriteAllText(Path.Combine(dir, "MyApp.deps.json"), deps);
        }
        return dir;
    }

    private static Dictionary<string, List<string>> Files(string dir, IReadOnlyList<AppLayerPart> parts) =>
        parts.ToDictionary(p => p.Name, p => Entries(Tar(dir, p)).Where(e => e.EntryType != TarEntryType.Directory).Select(e => e.Name).ToList());

    private static byte[] Tar(string dir, AppLayerPart part)
    {
        using var ms = new MemoryStream();
        new DirectoryLayerWriter(dir, "/app/", new LayerEntryPolicy(), part.Selection).WriteTar(ms, CancellationToken.None);
        return ms.ToArray();
    }

    private static List<TarEntry> Entries(byte[] tar)
    {
        using var reader = new TarReader(new MemoryStream(tar));
        var list = new List<TarEntry>();
        while (reader.GetNextEntry() is { } e)
        {
            list.Add(e);
        }
        return list;
    }

    [Fact]
    public void A_self_contained_folder_splits_by_origin_bottom_to_top()
    {
        var dir = Folder("sc", SelfContainedDeps, SelfContainedFiles);

        var parts = LayerPartitioner.Partition(dir, new LayerSplitOptions());

        Assert.Equal(["runtime", "packages", "prerelease-packages", "projects", "app"], parts.Select(p => p.Name));
        var files = Files(dir, parts);
        Assert.Equal(["app/System.Private.CoreLib.dll", "app/System.Runtime.dll", "app/createdump", "app/libcoreclr.so"], files["runtime"]);
        Assert.Equal(["app/Humanizer.dll", "app/de/Humanizer.resources.dll"], files["packages"]);
        Assert.Equal(["app/System.CommandLine.dll", "app/de/System.CommandLine.resources.dll"], files["prerelease-packages"]);
        Assert.Equal(["app/Lib.dll", "app/Lib.pdb"], files["projects"]);
        Assert.Equal(
            ["app/MyApp", "app/MyApp.deps.json", "app/MyApp.dll", "app/MyApp.pdb", "app/MyApp.runtimeconfig.json", "app/wwwroot/css/site.css"],
            files["app"]);
        Assert.Contains("Microsoft.NETCore.App.Runtime.linux-x64 10.0.12", parts[0].Description);
        Assert.Contains("System.CommandLine 2.0.0-beta4.22272.1", parts[2].Description);
        Assert.Equal(4, parts[0].FileCount);
    }

    [Fact]
    public void Every_layer_carries_the_directories_above_its_files_with_identical_metadata()
    {
        var dir = Folder("dirs", SelfContainedDeps, SelfContainedFiles);
        var parts = LayerPartitioner.Partition(dir, new LayerSplitOptions());

        var packages = Entries(Tar(dir, parts.Single(p => p.Name == "packages")));
        var prerelease = Entries(Tar(dir, parts.Single(p => p.Name == "prerelease-packages")));

        Assert.Equal(["app/", "app/Humanizer.dll", "app/de/", "app/de/Humanizer.resources.dll"], packages.Select(e => e.Name));
        var a = packages.Single(e => e.Name == "app/de/");
        var b = prerelease.Single(e => e.Name == "app/de/");
        Assert.Equal((a.Mode, a.ModificationTime, a.Uid, a.Gid), (b.Mode, b.ModificationTime, b.Uid, b.Gid));
        // The runtime layer has no file in de/, so it has no de/ entry either.
        Assert.DoesNotContain(Entries(Tar(dir, parts[0])), e => e.Name == "app/de/");
    }

    [Fact]
    public void The_layers_together_hold_exactly_the_entries_of_the_single_layer()
    {
        var dir = Folder("union", SelfContainedDeps, SelfContainedFiles);
        Directory.CreateDirectory(Path.Combine(dir, "empty", "inner"));
        var single = Entries(Tar(dir, LayerPartitioner.Partition(dir, LayerSplitOptions.None).Single()));

        var split = LayerPartitioner.Partition(dir, new LayerSplitOptions()).SelectMany(p => Entries(Tar(dir, p))).ToList();

        Assert.Equal(single.Select(e => e.Name).Order(StringComparer.Ordinal), split.Select(e => e.Name).Distinct().Order(StringComparer.Ordinal));
        var files = split.Where(e => e.EntryType != TarEntryType.Directory).Select(e => e.Name).ToList();
        Assert.Equal(files.Count, files.Distinct().Count());
        Assert.Contains("app/empty/inner/", split.Select(e => e.Name));
    }

    [Fact]
    public void A_layer_digest_depends_only_on_its_own_files()
    {
        var dir = Folder("v1", SelfContainedDeps, SelfContainedFiles);
        var before = LayerPartitioner.Partition(dir, new LayerSplitOptions()).ToDictionary(p => p.Name, p => SHA256.HashData(Tar(dir, p)));

        File.WriteAllText(Path.Combine(dir, "MyApp.dll"), "a one-line change");
        File.WriteAllText(Path.Combine(dir, "new-in-v2.json"), "{}");
        var after = LayerPartitioner.Partition(dir, new LayerSplitOptions()).ToDictionary(p => p.Name, p => SHA256.HashData(Tar(dir, p)));

        Assert.Equal(before.Keys, after.Keys);
        foreach (var name in before.Keys.Where(n => n != "app"))
        {
            Assert.Equal(before[name], after[name]);
        }
        Assert.NotEqual(before["app"], after["app"]);
    }

    [Fact]
    public void A_framework_dependent_folder_has_no_runtime_layer_and_empty_layers_are_left_out()
    {
        const string deps = """
            { "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0", "signature": "" },
              "targets": { ".NETCoreApp,Version=v10.0": {
                "MyApp/1.0.0": { "runtime": { "MyApp.dll": {} } },
                "Humanizer.Core/2.14.1": { "runtime": { "lib/net6.0/Humanizer.dll": {} } } } },
              "libraries": { "MyApp/1.0.0": { "type": "project" }, "Humanizer.Core/2.14.1": { "type": "package" } } }
            """;
        var dir = Folder("fd", deps, "MyApp.dll", "Humanizer.dll");

        var parts = LayerPartitioner.Partition(dir, new LayerSplitOptions());

        Assert.Equal(["packages", "app"], parts.Select(p => p.Name));
        Assert.Equal(["app/MyApp.deps.json", "app/MyApp.dll"], Files(dir, parts)["app"]);
    }

    [Fact]
    public void Without_a_deps_file_the_folder_is_one_app_layer()
    {
        var dir = Folder("single-file", deps: null, "MyApp", "MyApp.pdb");

        var part = Assert.Single(LayerPartitioner.Partition(dir, new LayerSplitOptions()));

        Assert.Equal("app", part.Name);
        Assert.Equal(2, part.FileCount);
    }

    [Fact]
    public void An_unreadable_deps_file_owns_nothing()
    {
        var dir = Folder("broken", "{ not json", "MyApp.dll", "Humanizer.dll");

        Assert.Equal(["app"], LayerPartitioner.Partition(dir, new LayerSplitOptions()).Select(p => p.Name));
    }

    [Fact]
    public void Portable_runtime_targets_are_found_by_their_full_path()
    {
        const string deps = """
            { "runtimeTarget": { "name": "t" },
              "targets": { "t": { "App/1.0.0": {}, "SQLite/3.0.0": { "runtimeTargets": { "runtimes/linux-x64/native/libe_sqlite3.so": { "rid": "linux-x64", "assetType": "native" } } } } },
              "libraries": { "App/1.0.0": { "type": "project" }, "SQLite/3.0.0": { "type": "package" } } }
            """;
        var dir = Folder("portable", deps, "App.dll", "runtimes/linux-x64/native/libe_sqlite3.so");

        var files = Files(dir, LayerPartitioner.Partition(dir, new LayerSplitOptions()));

        Assert.Equal(["app/runtimes/linux-x64/native/libe_sqlite3.so"], files["packages"]);
    }

    [Fact]
    public void Custom_layers_take_their_files_first_and_sit_where_they_were_placed()
    {
        var dir = Folder("custom", SelfContainedDeps, [.. SelfContainedFiles, "models/big.onnx", "models/small.onnx"]);
        var options = new LayerSplitOptions
        {
            CustomLayers =
            [
                new CustomLayer("models", ["models/"], After: "base"),
                new CustomLayer("static", ["wwwroot/**/*.css", "*.pdb"], After: "packages"),
                new CustomLayer("nothing", ["no-such/**"], After: "app"),
            ],
        };

        var parts = LayerPartitioner.Partition(dir, options);

        Assert.Equal(["models", "runtime", "packages", "static", "prerelease-packages", "projects", "app"], parts.Select(p => p.Name));
        var files = Files(dir, parts);
        Assert.Equal(["app/models/big.onnx", "app/models/small.onnx"], files["models"]);
        Assert.Equal(["app/Lib.pdb", "app/MyApp.pdb", "app/wwwroot/css/site.css"], files["static"]);
        Assert.Equal(["app/Lib.dll"], files["projects"]);
        Assert.Equal("layer 'models' (models/), 2 files", parts[0].Description);
    }

    [Fact]
    public void Custom_layers_apply_without_the_split_by_origin()
    {
        var dir = Folder("custom-only", SelfContainedDeps, [.. SelfContainedFiles, "models/big.onnx"]);

        var parts = LayerPartitioner.Partition(dir, new LayerSplitOptions { SplitByOrigin = false, CustomLayers = [new CustomLayer("models", ["models/**"], "base")] });

        Assert.Equal(["models", "app"], parts.Select(p => p.Name));
        Assert.Equal(SelfContainedFiles.Length, parts[1].FileCount);
    }

    [Theory]
    [InlineData("app", "base", "built-in names")]
    [InlineData("has space", "base", "letters, digits")]
    [InlineData("ok", "pakages", "not a place a layer can go")]
    public void A_bad_custom_layer_fails_with_a_code(string name, string after, string expected)
    {
        var dir = Folder("bad", deps: null, "a");

        var e = Assert.Throws<ZstdContainersException>(() =>
            LayerPartitioner.Partition(dir, new LayerSplitOptions { CustomLayers = [new CustomLayer(name, ["x"], after)] }));

        Assert.Equal(ErrorCodes.InvalidCustomLayer, e.Code);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_custom_layer_name_used_twice_or_without_patterns_fails()
    {
        var dir = Folder("twice", deps: null, "a");

        Assert.Throws<ZstdContainersException>(() => LayerPartitioner.Partition(dir,
            new LayerSplitOptions { CustomLayers = [new CustomLayer("m", ["x"]), new CustomLayer("M", ["y"])] }));
        var e = Assert.Throws<ZstdContainersException>(() => LayerPartitioner.Partition(dir,
            new LayerSplitOptions { CustomLayers = [new CustomLayer("m", [" "])] }));
        Assert.Contains("names no files", e.Message);
    }

    [Theory]
    [InlineData("*.json", "a.json", true)]
    [InlineData("*.json", "sub/a.json", false)]
    [InlineData("**/*.json", "a.json", true)]
    [InlineData("**/*.json", "x/y/a.json", true)]
    [InlineData("wwwroot", "wwwroot/css/site.css", true)]
    [InlineData("./wwwroot/", "wwwroot/a", true)]
    [InlineData("www", "wwwroot/a", false)]
    [InlineData("data/?.bin", "data/1.bin", true)]
    [InlineData("data/?.bin", "data/12.bin", false)]
    [InlineData("a+b(1).txt", "a+b(1).txt", true)]
    [InlineData("Models/**", "models/x", false)]
    public void Globs_match_relative_paths(string pattern, string path, bool expected) =>
        Assert.Equal(expected, new LayerGlob(pattern).Matches(path));
}
