using System.Text.RegularExpressions;

namespace ZstdContainers.Layers;

/// <summary>
/// One layer of a split publish folder: its name, what it holds (for the history entry and the
/// log), and the entries it writes (files and links it owns plus the directories above them),
/// or null for the whole folder.
/// </summary>
public sealed record AppLayerPart(string Name, string Description, IReadOnlySet<string>? Selection, int FileCount);

/// <summary>
/// Splits a publish folder into layers by how often their files change: runtime pack, NuGet
/// packages, prerelease packages, project references, then the app's own files (and everything
/// the deps file does not own) on top, with the user's own layers where they were placed. An
/// empty layer is left out. Every file lands in exactly one layer; each layer also carries the
/// directories above its files, with the same metadata in every layer, so the layers merge into
/// the folder as published and a layer's bytes depend on its own files only.
/// </summary>
public static partial class LayerPartitioner
{
    public const string BaseAnchor = "base";
    public const string RuntimeLayer = "runtime";
    public const string PackagesLayer = "packages";
    public const string PrereleaseLayer = "prerelease-packages";
    public const string ProjectsLayer = "projects";
    public const string AppLayer = "app";

    /// <summary>The positions a custom layer can take, bottom to top: directly above these.</summary>
    public static readonly IReadOnlyList<string> Anchors = [BaseAnchor, RuntimeLayer, PackagesLayer, PrereleaseLayer, ProjectsLayer, AppLayer];

    private const int LibrariesNamed = 4;

    public static IReadOnlyList<AppLayerPart> Partition(string publishDirectory, LayerSplitOptions options) =>
        Partition(PublishFolderSnapshot.Take(publishDirectory), options);

    /// <summary>Splits the folder as <paramref name="snapshot"/> saw it (no walk of its own).</summary>
    public static IReadOnlyList<AppLayerPart> Partition(PublishFolderSnapshot snapshot, LayerSplitOptions options)
    {
        var custom = Validate(options.CustomLayers);
        var publishDirectory = snapshot.Directory;
        if ((!options.SplitByOrigin && custom.Count == 0) || !Directory.Exists(publishDirectory))
        {
            return [WholeFolder(snapshot)];
        }

        var ownership = options.SplitByOrigin
            ? DepsFileReader.ReadOwnership(publishDirectory)
            : new Dictionary<string, OwnedFile>();
        var layers = new Dictionary<string, LayerContent>(StringComparer.Ordinal);
        LayerContent Layer(string name) => layers.TryGetValue(name, out var l) ? l : layers[name] = new LayerContent();

        var entries = snapshot.Entries;
        var parents = new HashSet<string>(entries.SelectMany(e => Ancestors(e.RelativePath)), StringComparer.Ordinal);
        foreach (var (path, info) in entries)
        {
            if (FolderEntries.IsDirectory(info))
            {
                if (!parents.Contains(path))
                {
                    // An empty directory belongs to nobody but the app.
                    Layer(AppLayer).Add(path, library: null, isFile: false);
                }
                continue;
            }
            if (custom.FirstOrDefault(c => c.Globs.Any(g => g.Matches(path))) is { } customLayer)
            {
                Layer(customLayer.Layer.Name).Add(path, library: null, isFile: true);
            }
            else if (OwnerOf(path, ownership) is { } owner)
            {
                Layer(LayerNameOf(owner.Origin)).Add(path, owner.Library, isFile: true);
            }
            else
            {
                Layer(AppLayer).Add(path, library: null, isFile: true);
            }
        }

        var parts = new List<AppLayerPart>();
        foreach (var name in Order(custom.Select(c => c.Layer)))
        {
            if (layers.TryGetValue(name, out var content))
            {
                var description = custom.FirstOrDefault(c => c.Layer.Name == name) is { } c
                    ? $"layer '{name}' ({string.Join(", ", c.Layer.Patterns)})"
                    : Describe(name, content.Libraries);
                parts.Add(new AppLayerPart(name, $"{description}, {content.FileCount} files", content.Selection(), content.FileCount));
            }
        }
        return parts.Count > 0 ? parts : [WholeFolder(snapshot)];
    }

    /// <summary>Fails with <see cref="ErrorCodes.InvalidCustomLayer"/> on a layer that cannot be built; cheap, so callers check before any work.</summary>
    public static void CheckCustomLayers(IReadOnlyList<CustomLayer> layers) => Validate(layers);

    private static AppLayerPart WholeFolder(PublishFolderSnapshot snapshot)
    {
        var files = snapshot.Entries.Count(e => !FolderEntries.IsDirectory(e.Info));
        return new AppLayerPart(AppLayer, $"the publish folder, {files} files", Selection: null, files);
    }

    /// <summary>The deps file's owner; a .pdb or .xml next to an owned .dll shares its owner (they change together).</summary>
    private static OwnedFile? OwnerOf(string path, IReadOnlyDictionary<string, OwnedFile> ownership)
    {
        if (ownership.TryGetValue(path, out var owner))
        {
            return owner;
        }
        var extension = Path.GetExtension(path);
        return extension is ".pdb" or ".xml" && ownership.TryGetValue(path[..^extension.Length] + ".dll", out var companion)
            ? companion
            : null;
    }

    private static string LayerNameOf(FileOrigin origin) => origin switch
    {
        FileOrigin.RuntimePack => RuntimeLayer,
        FileOrigin.Package => PackagesLayer,
        FileOrigin.PrereleasePackage => PrereleaseLayer,
        FileOrigin.ProjectReference => ProjectsLayer,
        _ => AppLayer,
    };

    private static string Describe(string layer, IReadOnlyCollection<string> libraries)
    {
        var kind = layer switch
        {
            RuntimeLayer => "runtime pack",
            PackagesLayer => "NuGet packages",
            PrereleaseLayer => "prerelease NuGet packages",
            ProjectsLayer => "project references",
            _ => "the app's own files and everything the deps file does not own",
        };
        if (libraries.Count == 0)
        {
            return kind;
        }
        var named = libraries.Take(LibrariesNamed).Select(l => l.StartsWith("runtimepack.", StringComparison.Ordinal) ? l["runtimepack.".Length..] : l);
        var more = libraries.Count > LibrariesNamed ? $" and {libraries.Count - LibrariesNamed} more" : string.Empty;
        return $"{kind} {string.Join(", ", named)}{more}";
    }

    /// <summary>Built-in layers bottom to top, each followed by the custom layers placed after it.</summary>
    private static IEnumerable<string> Order(IEnumerable<CustomLayer> custom)
    {
        var list = custom.ToList();
        foreach (var anchor in Anchors)
        {
            if (anchor != BaseAnchor)
            {
                yield return anchor;
            }
            foreach (var layer in list.Where(c => c.After == anchor))
            {
                yield return layer.Name;
            }
        }
    }

    private sealed record CompiledLayer(CustomLayer Layer, IReadOnlyList<LayerGlob> Globs);

    private static List<CompiledLayer> Validate(IReadOnlyList<CustomLayer> layers)
    {
        var compiled = new List<CompiledLayer>();
        foreach (var layer in layers)
        {
            var name = layer.Name.Trim();
            if (!LayerName().IsMatch(name) || Anchors.Contains(name, StringComparer.OrdinalIgnoreCase)
                || compiled.Any(c => string.Equals(c.Layer.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ZstdContainersException(
                    ErrorCodes.InvalidCustomLayer,
                    $"The layer name '{layer.Name}' cannot be used: a layer needs a name of its own, made of letters, digits, '.', '_' and '-', that is neither used twice nor one of the built-in names ({string.Join(", ", Anchors)}).");
            }
            var after = Anchors.FirstOrDefault(a => string.Equals(a, layer.After.Trim(), StringComparison.OrdinalIgnoreCase))
                ?? throw new ZstdContainersException(
                    ErrorCodes.InvalidCustomLayer,
                    $"The layer '{name}' is to go after '{layer.After}', which is not a place a layer can go. Use one of: {string.Join(", ", Anchors)} ('base' is directly on the base image, 'app' is the very top).");
            var patterns = layer.Patterns.Select(p => p.Trim()).Where(p => p.Length > 0).ToList();
            if (patterns.Count == 0)
            {
                throw new ZstdContainersException(
                    ErrorCodes.InvalidCustomLayer,
                    $"The layer '{name}' names no files. Give it one or more patterns relative to the publish folder, separated by ';' (e.g. 'wwwroot/**;models/*.onnx').");
            }
            compiled.Add(new CompiledLayer(new CustomLayer(name, patterns, after), [.. patterns.Select(p => new LayerGlob(p))]));
        }
        return compiled;
    }

    private static IEnumerable<string> Ancestors(string path)
    {
        for (var slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            yield return path[..slash];
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex LayerName();

    /// <summary>What one layer owns, collected while the folder is walked.</summary>
    private sealed class LayerContent
    {
        private readonly HashSet<string> _entries = new(StringComparer.Ordinal);
        private readonly SortedSet<string> _libraries = new(StringComparer.Ordinal);

        public int FileCount { get; private set; }

        public IReadOnlyCollection<string> Libraries => _libraries;

        public void Add(string path, string? library, bool isFile)
        {
            _entries.Add(path);
            _entries.UnionWith(Ancestors(path));
            if (library is not null)
            {
                _libraries.Add(library);
            }
            if (isFile)
            {
                FileCount++;
            }
        }

        public IReadOnlySet<string> Selection() => _entries;
    }
}
