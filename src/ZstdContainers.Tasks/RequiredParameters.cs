namespace ZstdContainers.Tasks;

/// <summary>
/// What [Required] would check, as a ZSTDC error: the SDK's targets pass these, and one that stops
/// passing them should be told apart from a broken project.
/// </summary>
internal static class RequiredParameters
{
    public static void Check(string task, params (string Name, string Value)[] parameters)
    {
        var missing = parameters.Where(p => string.IsNullOrWhiteSpace(p.Value)).Select(p => p.Name).ToList();
        if (missing.Count > 0)
        {
            throw Missing(task, missing);
        }
    }

    public static void CheckAny<T>(string task, string name, IReadOnlyCollection<T>? values)
    {
        if (values is null || values.Count == 0)
        {
            throw Missing(task, [name]);
        }
    }

    private static ZstdContainersException Missing(string task, IReadOnlyList<string> names) =>
        new(ErrorCodes.MissingTaskParameter,
            $"{task} was called without {string.Join(", ", names)}. The .NET SDK's container targets always pass {(names.Count == 1 ? "it" : "them")}; if you call {task} yourself, pass {(names.Count == 1 ? "it" : "them")}; if the SDK's targets did, this SDK calls its image tasks differently from the ones ZstdContainers knows: update ZstdContainers, or unset ContainerLayerCompression to publish with the SDK's own gzip layers.");
}
