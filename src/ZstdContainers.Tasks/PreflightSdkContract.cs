using Microsoft.Build.Framework;

namespace ZstdContainers.Tasks;

/// <summary>
/// Runs right before the SDK's targets call the image tasks we override. MSBuild binds task
/// parameters exactly, so an SDK whose tasks take an input ours do not would fail there with
/// MSB4064, a message that names neither ZstdContainers nor a way out. This compares the SDK's own
/// task parameters (read from its task assembly, see <see cref="SdkTaskParameters"/>) with ours
/// and stops with ZSTDC1033 instead. It also refuses what we cannot build (Windows images).
/// </summary>
public sealed class PreflightSdkContract : CoreTask
{
    /// <summary>The SDK's task assembly: $(ContainerCustomTasksAssembly).</summary>
    public string SdkTasksAssembly { get; set; } = string.Empty;

    /// <summary>$(NETCoreSdkVersion), for the message.</summary>
    public string SdkVersion { get; set; } = string.Empty;

    public string ContainerRuntimeIdentifier { get; set; } = string.Empty;

    public string ContainerRuntimeIdentifiers { get; set; } = string.Empty;

    internal static readonly IReadOnlyDictionary<string, Type> OurTasks = new Dictionary<string, Type>
    {
        ["CreateNewImage"] = typeof(CreateNewImage),
        ["CreateImageIndex"] = typeof(CreateImageIndex),
    };

    protected override System.Threading.Tasks.Task RunAsync(IBuildLog log, CancellationToken cancellationToken)
    {
        WindowsImages.Refuse(ContainerRuntimeIdentifier, ContainerRuntimeIdentifiers);
        if (string.IsNullOrWhiteSpace(SdkTasksAssembly) || !File.Exists(SdkTasksAssembly))
        {
            log.Detail($"ZstdContainers: the SDK's container task assembly '{SdkTasksAssembly}' is not there; its parameters were not compared with ours.");
            return System.Threading.Tasks.Task.CompletedTask;
        }
        var unknown = UnknownParameters(SdkTasksAssembly);
        if (unknown.Count > 0)
        {
            var ourVersion = typeof(PreflightSdkContract).Assembly.GetName().Version?.ToString(3) ?? "this version";
            var list = string.Join("; ", unknown.Select(u => $"{u.Key}: {string.Join(", ", u.Value)}"));
            throw new ZstdContainersException(
                ErrorCodes.SdkTaskContractChanged,
                $"The .NET SDK {SdkVersion} passes its image tasks parameters that ZstdContainers {ourVersion} does not know ({list}), so it cannot stand in for them. Update the ZstdContainers package to a version that supports this SDK, or unset ContainerLayerCompression to publish with the SDK's own gzip layers.");
        }
        log.Detail($"ZstdContainers: the image task parameters of SDK {SdkVersion} are all known.");
        return System.Threading.Tasks.Task.CompletedTask;
    }

    /// <summary>Per SDK task, the parameters it declares that ours lack (empty when every one is known).</summary>
    internal static SortedDictionary<string, List<string>> UnknownParameters(string sdkTasksAssembly)
    {
        Dictionary<string, SortedSet<string>> sdk;
        try
        {
            sdk = SdkTaskParameters.Read(sdkTasksAssembly, OurTasks.Keys);
        }
        catch (Exception e) when (e is BadImageFormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new ZstdContainersException(
                ErrorCodes.SdkTaskContractChanged,
                $"ZstdContainers could not read the SDK's container task assembly '{sdkTasksAssembly}' to check that it can stand in for its tasks ({e.Message}). Repair the .NET SDK installation, or unset ContainerLayerCompression to publish with the SDK's own gzip layers.");
        }
        var unknown = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, parameters) in sdk)
        {
            var ours = SdkTaskParameters.Of(OurTasks[name]);
            var missing = parameters.Where(p => !ours.Contains(p)).ToList();
            if (missing.Count > 0)
            {
                unknown[name] = missing;
            }
        }
        return unknown;
    }
}
