using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// What a sink ships (a registry push, an archive file, the stdin of <c>docker load</c> /
/// <c>podman load</c>): the finished images, the index that ties them together when there are
/// several platforms, and the names they get.
/// </summary>
public sealed record ImageSet
{
    /// <summary>One image per platform; a single entry for a single-platform build.</summary>
    public required IReadOnlyList<BuiltImage> Images { get; init; }

    /// <summary>
    /// The image index of a multi-platform build. Required when <see cref="Images"/> has more than
    /// one entry; when set, the names point at the index instead of a manifest.
    /// </summary>
    public IndexBlob? Index { get; init; }

    /// <summary>The repository the images are named with, e.g. "myapp" or "contoso/myapp".</summary>
    public required string Repository { get; init; }

    /// <summary>The tags; each one names the image (or index) as <c>Repository:tag</c>.</summary>
    public required IReadOnlyList<string> Tags { get; init; }

    /// <summary>
    /// The modification time stamped on every tar entry of the archive (not on the layers, which
    /// carry their own). Any constant keeps the archive reproducible; SOURCE_DATE_EPOCH fits here.
    /// </summary>
    public DateTimeOffset Timestamp { get; init; } = LayerEntryPolicy.DefaultTimestamp;

    /// <summary>
    /// How the <c>io.containerd.image.name</c> annotations of index.json spell the names; see
    /// <see cref="ContainerdImageNaming"/>. The docker manifest.json always has <c>Repository:tag</c>.
    /// </summary>
    public ContainerdImageNaming ContainerdNaming { get; init; } = ContainerdImageNaming.AsGiven;

    /// <summary><c>Repository:tag</c> for every tag, in order, duplicates removed.</summary>
    public IReadOnlyList<string> ImageNames => DistinctTags().Select(tag => Repository + ":" + tag).ToList();

    /// <summary>The tags in order with duplicates removed (the SDK can pass the same tag twice).</summary>
    public IReadOnlyList<string> DistinctTags() => Tags.Distinct(StringComparer.Ordinal).ToList();

    /// <summary>True when the archive holds one image and no more: it then also gets a docker manifest.json.</summary>
    public bool IsSinglePlatform => Images.Count == 1;

    /// <summary>Throws <see cref="ArgumentException"/> when the content cannot make a valid archive.</summary>
    public void Validate()
    {
        if (Images is null || Images.Count == 0)
        {
            throw new ArgumentException("An image set needs at least one image.", nameof(Images));
        }
        if (Images.Count > 1 && Index is null)
        {
            throw new ArgumentException(
                $"{Images.Count} images need an image index to tie them together; set {nameof(Index)}.", nameof(Index));
        }
        if (Index is not null && !MediaTypes.IsIndex(Index.MediaType))
        {
            throw new ArgumentException($"'{Index.MediaType}' is not an image index media type.", nameof(Index));
        }
        if (string.IsNullOrWhiteSpace(Repository))
        {
            throw new ArgumentException("The repository name is empty.", nameof(Repository));
        }
        if (Tags is null || Tags.Count == 0)
        {
            throw new ArgumentException("An archive needs at least one tag to name the image.", nameof(Tags));
        }
        foreach (var tag in Tags)
        {
            if (string.IsNullOrWhiteSpace(tag) || tag.Contains(':') || tag.Contains('/'))
            {
                throw new ArgumentException($"'{tag}' is not a tag.", nameof(Tags));
            }
        }
    }
}

/// <summary>The exact bytes of an image index, with the digest and media type they are shipped under.</summary>
public sealed record IndexBlob(byte[] Content, Digest Digest, string MediaType)
{
    public Descriptor Descriptor => new()
    {
        MediaType = MediaType,
        Digest = Digest,
        Size = Content.Length,
    };
}

/// <summary>How index.json names the images for containerd-based tools.</summary>
public enum ContainerdImageNaming
{
    /// <summary>
    /// <c>repository:tag</c> as given. <c>ctr images import</c> names the image exactly that, and
    /// <c>podman load</c> names it <c>localhost/repository:tag</c> (its rule for names without a
    /// registry) — the same name podman gives the image when it reads the docker manifest.json.
    /// </summary>
    AsGiven,

    /// <summary>
    /// The fully qualified reference Docker resolves a short name to (<c>app:1.0</c> →
    /// <c>docker.io/library/app:1.0</c>), as <c>docker save</c> and BuildKit write it. Docker's
    /// containerd image store stores the annotation verbatim and looks images up by the qualified
    /// name, so a short name there would not be found by <c>docker run app:1.0</c>.
    /// </summary>
    DockerQualified,
}
