using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Reporting;

namespace ZstdContainers.Tasks;

/// <summary>
/// Stands in for the SDK's CreateNewImage task when ContainerLayerCompression is zstd (see
/// build/ZstdContainers.targets). It takes exactly the SDK task's parameters and gives its
/// outputs, so the SDK's targets — and every Container* property they read — work unchanged.
/// The work itself is done by <see cref="ContainerImagePublisher"/>.
/// </summary>
public sealed partial class CreateNewImage : CoreTask
{
    // ---- The SDK's CreateNewImage parameters (same names, same types). ----
    public string BaseRegistry { get; set; } = string.Empty;
    public string BaseImageName { get; set; } = string.Empty;
    public string BaseImageTag { get; set; } = string.Empty;
    public string BaseImageDigest { get; set; } = string.Empty;
    public string OutputRegistry { get; set; } = string.Empty;
    public string ArchiveOutputPath { get; set; } = string.Empty;
    public string LocalRegistry { get; set; } = string.Empty;
    public string Repository { get; set; } = string.Empty;
    public string[] ImageTags { get; set; } = [];
    public string PublishDirectory { get; set; } = string.Empty;
    public string WorkingDirectory { get; set; } = string.Empty;
    public ITaskItem[] Entrypoint { get; set; } = [];
    public ITaskItem[] EntrypointArgs { get; set; } = [];
    public ITaskItem[] DefaultArgs { get; set; } = [];
    public ITaskItem[] AppCommand { get; set; } = [];
    public ITaskItem[] AppCommandArgs { get; set; } = [];
    public string AppCommandInstruction { get; set; } = string.Empty;
    public ITaskItem[] ExposedPorts { get; set; } = [];
    public ITaskItem[] Labels { get; set; } = [];
    public ITaskItem[] ContainerEnvironmentVariables { get; set; } = [];
    public string ContainerRuntimeIdentifier { get; set; } = string.Empty;
    public string RuntimeIdentifierGraphPath { get; set; } = string.Empty;
    public string ContainerUser { get; set; } = string.Empty;
    public bool GenerateLabels { get; set; }
    public bool GenerateDigestLabel { get; set; }
    public string? ImageFormat { get; set; }
    public bool SkipPublishing { get; set; }

    // ---- The SDK's outputs. ----
    [Output] public string GeneratedContainerManifest { get; set; } = string.Empty;
    [Output] public string GeneratedContainerConfiguration { get; set; } = string.Empty;
    [Output] public string GeneratedContainerDigest { get; set; } = string.Empty;
    [Output] public string GeneratedArchiveOutputPath { get; set; } = string.Empty;
    [Output] public string GeneratedContainerMediaType { get; set; } = string.Empty;
    [Output] public ITaskItem[] GeneratedContainerNames { get; set; } = [];
    [Output] public ITaskItem? GeneratedDigestLabel { get; set; }

    protected override async System.Threading.Tasks.Task RunAsync(IBuildLog log, CancellationToken cancellationToken)
    {
        var request = BuildRequest(log);
        var options = RegistryClientOptions.FromSdkEnvironment(log);
        var sink = ImageSinks.For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRuntime, request.Repository, options, log);
        using var ownedSink = sink as IDisposable; // a registry sink holds its client (connections, token)
        var result = await new ContainerImagePublisher(options, log).PublishAsync(request, sink, cancellationToken).ConfigureAwait(false);
        PublishReportOutput.Write(result.Report, PublishReportOutput.DirectoryFor(PublishDirectory), options.Environment, log);

        GeneratedContainerManifest = System.Text.Encoding.UTF8.GetString(result.Image.Manifest);
        GeneratedContainerConfiguration = System.Text.Encoding.UTF8.GetString(result.Image.Config);
        GeneratedContainerDigest = result.Image.ManifestDigest.Value;
        GeneratedContainerMediaType = result.Image.ManifestMediaType;
        GeneratedArchiveOutputPath = result.ArchivePath ?? ArchiveOutputPath;
        GeneratedContainerNames = [.. result.ImageNames.Select(n => new TaskItem(n))];
        if (GenerateLabels && GenerateDigestLabel)
        {
            var label = new TaskItem(ContainerConfigComposer.BaseDigestLabel);
            label.SetMetadata("Value", result.BaseManifestDigest.Value);
            GeneratedDigestLabel = label;
        }
    }

    private ImageRequest BuildRequest(IBuildLog log)
    {
        // Checked here rather than with [Required], so an SDK whose targets stop passing one gets a
        // ZSTDC error that says so instead of MSB4044.
        RequiredParameters.Check(nameof(CreateNewImage),
            (nameof(BaseImageName), BaseImageName), (nameof(Repository), Repository), (nameof(PublishDirectory), PublishDirectory),
            (nameof(WorkingDirectory), WorkingDirectory), (nameof(ContainerRuntimeIdentifier), ContainerRuntimeIdentifier));
        RequiredParameters.CheckAny(nameof(CreateNewImage), nameof(ImageTags), ImageTags);
        WindowsImages.Refuse(ContainerRuntimeIdentifier);
        var settings = SettingsHandOff.Find(BuildEngine, Repository);
                return new ImageRequest
        {
            BaseImage = new ImageReference(
                BaseRegistry,
                BaseImageName,
                string.IsNullOrWhiteSpace(BaseImageTag) ? null : BaseImageTag,
                string.IsNullOrWhiteSpace(BaseImageDigest) ? null : BaseImageDigest),
            RuntimeIdentifier = ContainerRuntimeIdentifier,
            PublishDirectory = PublishDirectory,
            WorkingDirectory = WorkingDirectory,
            Repository = Repository,
            Tags = ImageTags,
            OutputRegistry = OutputRegistry,
            ArchiveOutputPath = ArchiveOutputPath,
            LocalRuntime = LocalRegistrySetting.Parse(LocalRegistry, OutputRegistry, ArchiveOutputPath),
            Entrypoint = Values(Entrypoint),
            EntrypointArgs = Values(EntrypointArgs),
            DefaultArgs = Values(DefaultArgs),
            AppCommand = Values(AppCommand),
            AppCommandArgs = Values(AppCommandArgs),
            AppCommandInstruction = AppCommandInstructionSetting.Parse(AppCommandInstruction),
            ExposedPorts = [.. ExposedPorts.Select(ParsePort)],
            Labels = Pairs(Labels),
            EnvironmentVariables = Pairs(ContainerEnvironmentVariables),
            User = ContainerUser,
            GenerateLabels = GenerateLabels,
            GenerateDigestLabel = GenerateDigestLabel,
            GenerateCreatedLabels = GenerateCreatedLabels,
            ManifestAnnotations = ContractInputs.Annotations(Annotations, ContractInputs.AnnotationScope.Manifest),
            SkipPublishing = SkipPublishing,
            Compression = settings.Compression with { UseZstd = true },
            LayerSplit = settings.LayerSplit,
            SourceDateEpoch = ContractInputs.SourceDateEpoch(SourceDateEpoch),
        };
    }

    private static List<string> Values(ITaskItem[] items) => [.. items.Select(i => i.ItemSpec).Where(s => s.Length > 0)];

    private static List<KeyValuePair<string, string>> Pairs(ITaskItem[] items) =>
        [.. items.Select(i => KeyValuePair.Create(i.ItemSpec, i.GetMetadata("Value")))];

    private static ExposedPort ParsePort(ITaskItem item)
    {
        var type = item.GetMetadata("Type");
        type = string.IsNullOrWhiteSpace(type) ? "tcp" : type.Trim().ToLowerInvariant();
        if (!int.TryParse(item.ItemSpec.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535 || type is not ("tcp" or "udp"))
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidPort,
                $"ContainerPort '{item.ItemSpec}' with Type '{item.GetMetadata("Type")}' is not a port: use a number from 1 to 65535 and Type 'tcp' (the default) or 'udp', e.g. <ContainerPort Include=\"8080\" Type=\"tcp\" />.");
        }
        return new ExposedPort(number, type);
    }
}
