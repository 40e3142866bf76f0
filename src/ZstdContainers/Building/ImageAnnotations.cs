namespace ZstdContainers.Building;

/// <summary>
/// OCI annotations we write on a manifest or an index, and the well-known label and annotation
/// names whose value is a time or a digest only the build knows.
/// </summary>
public static class ImageAnnotations
{
    /// <summary>The two creation labels (and the creation annotation) the SDK stamps on an image.</summary>
    public const string ImageCreated = "org.opencontainers.image.created";

    public const string ArtifactCreated = "org.opencontainers.artifact.created";

    public const string BaseDigest = "org.opencontainers.image.base.digest";

    public static IReadOnlyList<string> CreatedLabelNames { get; } = [ImageCreated, ArtifactCreated];

    /// <summary>
    /// The annotations as written: in the given order, later names winning; an empty value of the
    /// creation or base-digest annotation is filled in with <paramref name="created"/> or
    /// <paramref name="baseManifestDigest"/> (the targets leave those to the image step).
    /// Null when there are none, so a manifest without annotations stays byte-identical.
    /// </summary>
    public static IReadOnlyDictionary<string, string>? Resolve(
        IReadOnlyList<KeyValuePair<string, string>> annotations, DateTimeOffset created, Oci.Digest? baseManifestDigest)
    {
        if (annotations.Count == 0)
        {
            return null;
        }
        var resolved = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in annotations)
        {
            resolved[name] = value.Length > 0 ? value : name switch
            {
                ImageCreated => ContainerConfigComposer.FormatTime(created),
                BaseDigest when baseManifestDigest is { } digest => digest.Value,
                _ => value,
            };
        }
        return resolved;
    }
}
