using Microsoft.Build.Framework;

namespace ZstdContainers.Tasks;

/// <summary>
/// Reads the SDK's newer task inputs into the core's terms: the reproducibility epoch, annotation
/// items filtered by their Scope, and the base-image sources we cannot serve.
/// </summary>
internal static class ContractInputs
{
    [Flags]
    public enum AnnotationScope
    {
        Manifest = 1,
        Index = 2,
    }

    /// <summary>The task's SourceDateEpoch when the SDK passes one, else SOURCE_DATE_EPOCH (SDK 10 passes nothing).</summary>
    public static string? SourceDateEpoch(string parameter) =>
        !string.IsNullOrWhiteSpace(parameter) ? parameter : Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");

    /// <summary>
    /// The annotations that apply to <paramref name="wanted"/>: an item's Scope metadata is a comma
    /// list of Manifest and Index (any case); no Scope means every scope, as in the SDK's task.
    /// </summary>
    public static List<KeyValuePair<string, string>> Annotations(ITaskItem[] items, AnnotationScope wanted)
    {
        var selected = new List<KeyValuePair<string, string>>();
        foreach (var item in items)
        {
            var scopeText = item.GetMetadata("Scope");
            var scope = wanted;
            if (!string.IsNullOrWhiteSpace(scopeText))
            {
                scope = 0;
                foreach (var part in scopeText.Split(',', StringSplitOptions.TrimEntries))
                {
                    scope |= Enum.TryParse<AnnotationScope>(part, ignoreCase: true, out var one) && Enum.IsDefined(one)
                        ? one
                        : throw new ZstdContainersException(
                            ErrorCodes.InvalidAnnotationScope,
                            $"ContainerAnnotation '{item.ItemSpec}' has Scope '{scopeText}', but a Scope is 'Manifest', 'Index' or both ('Manifest,Index'). Fix the item's Scope metadata or remove it (then the annotation goes on the manifest).");
                }
            }
            if ((scope & wanted) != 0)
            {
                selected.Add(KeyValuePair.Create(item.ItemSpec, item.GetMetadata("Value")));
            }
        }
        return selected;
    }

    /// <summary>BaseImageSource=local (read the base image from the local runtime) is not something we can do.</summary>
    public static void CheckBaseImageSource(string baseImageSource)
    {
        var value = baseImageSource.Trim();
        if (value.Length > 0 && !value.Equals("registry", StringComparison.OrdinalIgnoreCase))
        {
            throw new ZstdContainersException(
                ErrorCodes.UnsupportedBaseImageSource,
                $"The SDK asks for the base image from '{value}' (BaseImageSource), but ZstdContainers reads base images from a registry only. Push the base image to a registry and name it in ContainerBaseImage, or unset ContainerLayerCompression to publish with the SDK's gzip.");
        }
    }
}
