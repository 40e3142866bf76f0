using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// A sink that takes an image's layers while the rest of the image is still being built: a registry
/// starts each layer's upload as soon as that layer is ready, instead of after the last one. Archives
/// and the local daemon write the image in one piece and do not offer it. Naming is unchanged: the
/// image is tagged only in <see cref="ShipAsync"/>, after every blob is confirmed, and a publish
/// that fails first tags nothing.
/// </summary>
public interface IEarlyBlobSink : IImageSink
{
    /// <summary>
    /// Opens the uploads of one push to <paramref name="repository"/>; hand layers to
    /// <see cref="BlobUploads.Ship"/> as they are ready. Dispose it when the publish ends: after a
    /// failure that stops the uploads still running.
    /// </summary>
    BlobUploads BeginUploads(string repository, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="IImageSink.ShipAsync"/> with the uploads already started: waits for them, ships
    /// any blob not handed over yet, then the config and the manifest under every tag.
    /// </summary>
    Task<ShipReport> ShipAsync(ImageSet images, BlobUploads started, CancellationToken cancellationToken);
}
