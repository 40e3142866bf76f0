using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Reporting;

namespace ZstdContainers.Building;

/// <summary>What the task reports back to the SDK's targets (GeneratedContainer* outputs).</summary>
public sealed record ImagePublishResult(
    BuiltImage Image,
    IReadOnlyList<string> ImageNames,
    Digest BaseManifestDigest,
    string? ArchivePath,
    ShipReport Shipped,
    PublishReport Report);
