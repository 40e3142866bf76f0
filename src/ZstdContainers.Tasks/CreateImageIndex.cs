using Microsoft.Build.Framework;
using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Tasks;

/// <summary>
/// Stands in for the SDK's CreateImageIndex task when ContainerLayerCompression is zstd: the
/// multi-RID publish (ContainerRuntimeIdentifiers) ties its per-RID zstd images into an OCI image
/// index. Same parameters and outputs as the SDK's task; the work is done by <see cref="ImageIndexPublisher"/>.
/// </summary>
public sealed partial class CreateImageIndex : CoreTask
{
    public string BaseRegistry { get; set; } = string.Empty;
    public string BaseImageName { get; set; } = string.Empty;
    public string BaseImageTag { get; set; } = string.Empty;
    public string BaseImageDigest { get; set; } = string.Empty;
    public ITaskItem[] GeneratedContainers { get; set; } = [];
    public string OutputRegistry { get; set; } = string.Empty;
    public string ArchiveOutputPath { get; set; } = string.Empty;
    public string LocalRegistry { get; set; } = string.Empty;
    public string Repository { get; set; } = string.Empty;
    public string[] ImageTags { get; set; } = [];

    [Output] public string GeneratedArchiveOutputPath { get; set; } = string.Empty;
    [Output] public string GeneratedImageIndex { get; set; } = string.Empty;

    protected override async System.Threading.Tasks.Task RunAsync(IBuildLog log, CancellationToken cancellationToken)
    {
        RequiredParameters.Check(nameof(CreateImageIndex), (nameof(BaseImageName), BaseImageName), (nameof(Repository), Repository));
        RequiredParameters.CheckAny(nameof(CreateImageIndex), nameof(ImageTags), ImageTags);
        RequiredParameters.CheckAny(nameof(CreateImageIndex), nameof(GeneratedContainers), GeneratedContainers);
        ContractInputs.CheckBaseImageSource(BaseImageSource);
                var request = new ImageIndexRequest
        {
            Images = [.. GeneratedContainers.Select(item => new GeneratedImage(
                item.GetMetadata("Manifest"), item.GetMetadata("Configuration"), item.GetMetadata("ManifestDigest"), item.GetMetadata("ManifestMediaType")))],
            BaseImage = new ImageReference(BaseRegistry, BaseImageName, NullIfEmpty(BaseImageTag), NullIfEmpty(BaseImageDigest)),
            Repository = Repository,
            Tags = ImageTags,
            OutputRegistry = OutputRegistry,
            ArchiveOutputPath = ArchiveOutputPath,
            LocalRuntime = LocalRegistrySetting.Parse(LocalRegistry, OutputRegistry, ArchiveOutputPath),
            Compression = SettingsHandOff.Find(BuildEngine, Repository).Compression,
            SourceDateEpoch = ContractInputs.SourceDateEpoch(SourceDateEpoch),
            IndexAnnotations = ContractInputs.Annotations(Annotations, ContractInputs.AnnotationScope.Index),
        };
        var options = RegistryClientOptions.FromSdkEnvironment(log);
        var sink = ImageSinks.For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRuntime, request.Repository, options, log);
        using var ownedSink = sink as IDisposable; // a registry sink holds its client (connections, token)
        var (index, archivePath) = await new ImageIndexPublisher(options, log).PublishAsync(request, sink, cancellationToken).ConfigureAwait(false);
        GeneratedImageIndex = System.Text.Encoding.UTF8.GetString(index.Content);
        GeneratedArchiveOutputPath = archivePath ?? ArchiveOutputPath;
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
