using ZstdContainers.Destinations;
using ZstdContainers.Oci;

namespace ZstdContainers.Reporting;

/// <summary>Where one layer of the image came from and how it was prepared, in the manifest's order.</summary>
/// <param name="Origin">"base", "app", or the origin name of a split app layer.</param>
/// <param name="BytesPulled">A base layer's size as pulled; null for layers built here.</param>
/// <param name="TarBytes">A built layer's uncompressed tar size; null for base layers.</param>
public sealed record LayerProvenance(string Origin, LayerPreparation Prepared, long? BytesPulled, long? TarBytes, TimeSpan Elapsed);

/// <summary>What the publish knows when it is done, gathered for <see cref="PublishReportBuilder"/>.</summary>
public sealed record PublishFacts
{
    public required BuiltImage Image { get; init; }

    public required IReadOnlyList<LayerProvenance> Layers { get; init; }

    /// <summary>What the sink did with each blob; <see cref="ShipReport.Empty"/> when nothing was shipped yet.</summary>
    public required ShipReport Shipped { get; init; }

    /// <summary>The sink's verb ("Pushed", "Wrote", "Loaded") or "Built".</summary>
    public required string Verb { get; init; }

    public required IReadOnlyList<string> Names { get; init; }

    /// <summary>True when the names are registry references, so name@digest pins the image.</summary>
    public required bool NamesAreRegistryReferences { get; init; }

    public required ImageReference BaseImage { get; init; }

    public required Digest BaseManifestDigest { get; init; }

    public required string Compression { get; init; }

    public required int Level { get; init; }

    public required string Tool { get; init; }

    public required TimeSpan Elapsed { get; init; }
}

/// <summary>Turns <see cref="PublishFacts"/> into the report; pure, so it is tested without a registry.</summary>
public static class PublishReportBuilder
{
    public static PublishReport Build(PublishFacts facts)
    {
        var image = facts.Image;
        if (facts.Layers.Count != image.Layers.Count)
        {
            throw new ArgumentException($"{facts.Layers.Count} layer provenances for {image.Layers.Count} layers.", nameof(facts));
        }
        var layers = image.Layers.Select((layer, i) => Layer(layer, facts.Layers[i], facts.Shipped.Find(layer.Descriptor.Digest))).ToList();
        var config = facts.Shipped.Find(image.ConfigDigest);
        var configSent = config?.SentBytes ?? 0;
        var first = facts.Names.Count > 0 ? facts.Names[0] : image.ManifestDigest.Value;
        return new PublishReport
        {
            Tool = facts.Tool,
            Destination = facts.Verb.ToLowerInvariant(),
            Image = first,
            Names = facts.Names,
            ImageByDigest = facts.NamesAreRegistryReferences && facts.Names.Count > 0 ? WithoutTag(first) + "@" + image.ManifestDigest.Value : null,
            ManifestDigest = image.ManifestDigest.Value,
            ManifestMediaType = image.ManifestMediaType,
            Platform = image.Platform.ToString(),
            BaseImage = facts.BaseImage.ToString(),
            BaseManifestDigest = facts.BaseManifestDigest.Value,
            Compression = facts.Compression,
            Level = facts.Level,
            Layers = layers,
            Config = new BlobReport(image.ConfigDigest.Value, image.Config.Length, TransferName(config?.Transfer)),
            Totals = new ReportTotals
            {
                Layers = layers.Count,
                BytesPulled = layers.Sum(l => l.BytesPulled ?? 0),
                BytesPushed = layers.Sum(l => l.BytesPushed) + image.Config.Length,
                BytesSent = layers.Sum(l => l.BytesSent) + configSent,
                Seconds = Math.Round(facts.Elapsed.TotalSeconds, 3),
            },
        };
    }

    /// <summary>"registry:5000/app:1.0" → "registry:5000/app" (a ':' after the last '/' starts the tag).</summary>
    public static string WithoutTag(string name)
    {
        var colon = name.LastIndexOf(':');
        return colon > name.LastIndexOf('/') ? name[..colon] : name;
    }

    public static string PreparationName(LayerPreparation preparation) => preparation switch
    {
        LayerPreparation.Built => "built",
        LayerPreparation.Transcoded => "transcoded",
        LayerPreparation.FromCache => "from cache",
        LayerPreparation.Reused => "reused",
        LayerPreparation.FromRegistryCache => "from registry cache",
        _ => preparation.ToString(),
    };

    public static string TransferName(BlobTransfer? transfer) => transfer switch
    {
        BlobTransfer.Uploaded => "uploaded",
        BlobTransfer.AlreadyPresent => "already present",
        BlobTransfer.Mounted => "mounted",
        BlobTransfer.ReusedFromRegistryCache => "reused from registry cache",
        BlobTransfer.Written => "written",
        null => "not shipped",
        _ => transfer.ToString()!,
    };

    private static LayerReport Layer(ImageLayer layer, LayerProvenance provenance, BlobShipment? shipped) => new()
    {
        Origin = provenance.Origin,
        Digest = layer.Descriptor.Digest.Value,
        DiffId = layer.DiffId.Value,
        MediaType = layer.Descriptor.MediaType,
        BytesPulled = provenance.BytesPulled,
        TarBytes = provenance.TarBytes,
        BytesPushed = layer.Descriptor.Size,
        BytesSent = shipped?.SentBytes ?? 0,
        Prepared = PreparationName(provenance.Prepared),
        Transfer = TransferName(shipped?.Transfer),
        PrepareSeconds = Math.Round(provenance.Elapsed.TotalSeconds, 3),
        TransferSeconds = Math.Round(shipped?.Elapsed.TotalSeconds ?? 0, 3),
    };
}
