using System.Text.Json;

namespace ZstdContainers.Layers;

/// <summary>
/// Reads which library owns which file of a publish folder from the app's *.deps.json (the file
/// the .NET host itself reads to find assemblies). Each library of the runtime target lists its
/// assets by their path inside the package; publish flattens them, so an asset is found in the
/// folder by its file name ("runtime", "native"), by locale and file name ("resources"), or by
/// its full path (RID-specific "runtimeTargets" of a portable app).
/// </summary>
public static class DepsFileReader
{
    private const string DepsSuffix = ".deps.json";

    /// <summary>
    /// Publish-relative paths ('/' separators) of the files some library owns; empty when the
    /// folder has no deps file (a single-file publish). The app's own assets are not listed: they
    /// belong to the app layer like anything else nobody owns.
    /// </summary>
    public static IReadOnlyDictionary<string, OwnedFile> ReadOwnership(string publishDirectory)
    {
        var owned = new Dictionary<string, OwnedFile>(StringComparer.Ordinal);
        if (!Directory.Exists(publishDirectory))
        {
            return owned;
        }
        // Ordinal order so that, should a folder hold two deps files, the result is still the same every time.
        var depsFiles = Directory.GetFiles(publishDirectory, "*" + DepsSuffix).Order(StringComparer.Ordinal);
        foreach (var depsFile in depsFiles)
        {
            try
            {
                using var stream = File.OpenRead(depsFile);
                using var json = JsonDocument.Parse(stream);
                AddOwnership(json.RootElement, owned);
            }
            catch (JsonException)
            {
                // A deps file we cannot read owns nothing: its files go to the app layer, which is
                // always correct, only less finely split.
            }
        }
        return owned;
    }

    private static void AddOwnership(JsonElement root, Dictionary<string, OwnedFile> owned)
    {
        if (!TryGetTarget(root, out var target))
        {
            return;
        }
        var libraries = root.TryGetProperty("libraries", out var l) && l.ValueKind == JsonValueKind.Object ? l : default;
        var first = true;
        foreach (var library in target.EnumerateObject())
        {
            // The SDK writes the app's own project first in its runtime target.
            var isApp = first;
            first = false;
            var type = LibraryType(libraries, library.Name);
            if (isApp && type == "project")
            {
                continue;
            }
            if (OriginOf(library.Name, type) is not { } origin || library.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            var display = library.Name.Replace('/', ' ');
            foreach (var path in PublishedPaths(library.Value))
            {
                // Two libraries claiming one file: the one that changes more often wins, so a
                // change to it always reaches the image.
                if (!owned.TryGetValue(path, out var existing) || existing.Origin < origin)
                {
                    owned[path] = new OwnedFile(origin, display);
                }
            }
        }
    }

    private static bool TryGetTarget(JsonElement root, out JsonElement target)
    {
        target = default;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("targets", out var targets) || targets.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        var name = root.TryGetProperty("runtimeTarget", out var rt) && rt.ValueKind == JsonValueKind.Object
            && rt.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        if (name is not null && targets.TryGetProperty(name, out target) && target.ValueKind == JsonValueKind.Object)
        {
            return true;
        }
        // Without a runtime target the only target there is describes what was published.
        var all = targets.EnumerateObject().ToList();
        if (all.Count == 1 && all[0].Value.ValueKind == JsonValueKind.Object)
        {
            target = all[0].Value;
            return true;
        }
        return false;
    }

    private static string? LibraryType(JsonElement libraries, string name) =>
        libraries.ValueKind == JsonValueKind.Object
        && libraries.TryGetProperty(name, out var library) && library.ValueKind == JsonValueKind.Object
        && library.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;

    private static FileOrigin? OriginOf(string library, string? type)
    {
        if (type == "runtimepack" || library.StartsWith("runtimepack.", StringComparison.Ordinal))
        {
            return FileOrigin.RuntimePack;
        }
        if (type == "project")
        {
            return FileOrigin.ProjectReference;
        }
        if (type == "package")
        {
            // A SemVer prerelease label follows the first '-' of the version ("2.0.0-beta4.22272.1").
            var slash = library.IndexOf('/', StringComparison.Ordinal);
            var version = slash >= 0 ? library[(slash + 1)..] : string.Empty;
            return version.Contains('-', StringComparison.Ordinal) ? FileOrigin.PrereleasePackage : FileOrigin.Package;
        }
        // "reference" assemblies and unknown kinds are not published from a package: leave them to the app layer.
        return null;
    }

    private static IEnumerable<string> PublishedPaths(JsonElement assets)
    {
        foreach (var kind in new[] { "runtime", "native" })
        {
            foreach (var asset in Assets(assets, kind))
            {
                yield return FileName(asset.Name);
            }
        }
        foreach (var asset in Assets(assets, "resources"))
        {
            var locale = asset.Value.ValueKind == JsonValueKind.Object && asset.Value.TryGetProperty("locale", out var l)
                && l.ValueKind == JsonValueKind.String ? l.GetString() : null;
            yield return string.IsNullOrEmpty(locale) ? FileName(asset.Name) : locale + "/" + FileName(asset.Name);
        }
        foreach (var asset in Assets(assets, "runtimeTargets"))
        {
            yield return asset.Name.Replace('\\', '/');
        }
    }

    private static IEnumerable<JsonProperty> Assets(JsonElement library, string kind) =>
        library.TryGetProperty(kind, out var assets) && assets.ValueKind == JsonValueKind.Object
            ? assets.EnumerateObject()
            : [];

    private static string FileName(string assetPath)
    {
        var normalized = assetPath.Replace('\\', '/');
        return normalized[(normalized.LastIndexOf('/') + 1)..];
    }
}
