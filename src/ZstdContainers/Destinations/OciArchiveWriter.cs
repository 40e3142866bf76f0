using System.Formats.Tar;
using System.Text;
using System.Text.Json.Serialization;
using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// Writes images as one tar holding an OCI image layout — <c>oci-layout</c>, <c>index.json</c>,
/// <c>blobs/sha256/…</c> — plus, for a single platform, the docker <c>manifest.json</c> that
/// <c>docker load</c> without the containerd image store needs (BuildKit's docker exporter writes
/// the same combination). The result loads with <c>ctr images import</c>, <c>podman load</c> and
/// <c>docker load</c>, and is a valid <c>oci-archive:</c> for skopeo.
/// </summary>
/// <remarks>
/// <para>Naming: each entry of index.json carries <c>io.containerd.image.name</c> =
/// <c>repository:tag</c> (or Docker's qualified form, see <see cref="ContainerdImageNaming"/>),
/// which containerd's importer (ctr, Docker's containerd image store) and podman's oci-archive
/// loader both take as the image name before anything else, and
/// <c>org.opencontainers.image.ref.name</c> = the tag, as the OCI layout spec defines it (ctr
/// alone would turn a bare tag into "import-&lt;date&gt;:tag"). manifest.json lists the same names
/// as RepoTags for docker's classic image store, and for podman when index.json names more than
/// one image (its oci-archive loader takes only one).</para>
/// <para>Reproducible: GNU-format entries (so no PAX headers with process ids in their names),
/// a fixed timestamp, owner 0:0, fixed modes and a fixed entry order; the same content always
/// gives the same bytes.</para>
/// <para>Streaming: layers are copied from their <see cref="IBlobSource"/> straight into the output
/// and checked against their descriptor's size and digest on the way (ZSTDC4003 on a mismatch);
/// the output may be a pipe.</para>
/// </remarks>
public static class OciArchiveWriter
{
    public const string OciLayoutFileName = "oci-layout";
    public const string IndexFileName = "index.json";
    public const string DockerManifestFileName = "manifest.json";
    public const string BlobsDirectory = "blobs/sha256/";

    /// <summary>The annotation containerd (and podman, before ref.name) reads the full image name from.</summary>
    public const string ContainerdImageNameAnnotation = "io.containerd.image.name";

    /// <summary>The OCI image-layout annotation naming a manifest; by convention the tag alone.</summary>
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    private const UnixFileMode FileMode = (UnixFileMode)0b110_100_100;      // 0644
    private const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101; // 0755

    private static readonly byte[] OciLayoutContent = Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}");

    /// <summary>Blob path of a digest inside the archive: <c>blobs/sha256/&lt;hex&gt;</c>.</summary>
    public static string BlobPath(Digest digest) => BlobsDirectory + digest.Hex;

    /// <summary>
    /// Writes the whole archive, end-of-archive blocks included, to <paramref name="output"/>
    /// (left open). On a failure the output holds a truncated archive and no end-of-archive marker.
    /// </summary>
    public static async Task WriteAsync(Stream output, ImageSet content, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(content);
        content.Validate();

        // Check every in-memory document before the first byte goes out, so a wrong digest never
        // leaves a half-written archive behind in the common case.
        foreach (var image in content.Images)
        {
            VerifyBytes(image.Manifest, image.ManifestDigest, $"manifest of {image.Platform}");
            VerifyBytes(image.Config, image.ConfigDigest, $"config of {image.Platform}");
        }
        if (content.Index is { } index)
        {
            VerifyBytes(index.Content, index.Digest, "image index");
        }

        // Not disposed on failure: disposing writes the end-of-archive blocks, which would make a
        // truncated archive look complete (and on a closed pipe would hide the original error).
        var writer = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        var timestamp = content.Timestamp;

        await WriteFileAsync(writer, OciLayoutFileName, OciLayoutContent, timestamp, ct).ConfigureAwait(false);
        await WriteFileAsync(writer, IndexFileName, BuildIndexJson(content), timestamp, ct).ConfigureAwait(false);
        if (content.IsSinglePlatform)
        {
            await WriteFileAsync(writer, DockerManifestFileName, BuildDockerManifestJson(content), timestamp, ct).ConfigureAwait(false);
        }
        await WriteDirectoryAsync(writer, "blobs/", timestamp, ct).ConfigureAwait(false);
        await WriteDirectoryAsync(writer, BlobsDirectory, timestamp, ct).ConfigureAwait(false);

        var written = new HashSet<Digest>();
        foreach (var image in content.Images)
        {
            if (written.Add(image.ManifestDigest))
            {
                await WriteFileAsync(writer, BlobPath(image.ManifestDigest), image.Manifest, timestamp, ct).ConfigureAwait(false);
            }
            if (written.Add(image.ConfigDigest))
            {
                await WriteFileAsync(writer, BlobPath(image.ConfigDigest), image.Config, timestamp, ct).ConfigureAwait(false);
            }
            foreach (var layer in image.Layers)
            {
                var digest = layer.Descriptor.Digest;
                if (written.Add(digest))
                {
                    await WriteLayerAsync(writer, layer, digest, image.Platform, timestamp, ct).ConfigureAwait(false);
                }
            }
        }
        if (content.Index is { } indexBlob && written.Add(indexBlob.Digest))
        {
            await WriteFileAsync(writer, BlobPath(indexBlob.Digest), indexBlob.Content, timestamp, ct).ConfigureAwait(false);
        }

        await writer.DisposeAsync().ConfigureAwait(false);
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The archive's index.json: the image index once per tag when the content has one (several
    /// platforms), else the single manifest once per tag. Every entry is named for containerd,
    /// podman and the OCI spec.
    /// </summary>
    internal static byte[] BuildIndexJson(ImageSet content)
    {
        var target = content.Index?.Descriptor ?? content.Images[0].ManifestDescriptor;
        var manifests = content.DistinctTags()
            .Select(tag => target with
            {
                Annotations = new SortedDictionary<string, string>(StringComparer.Ordinal)
                {
                    [ContainerdImageNameAnnotation] = ContainerdName(content, tag),
                    [RefNameAnnotation] = tag,
                },
            })
            .ToList();
        return OciJson.Serialize(new ImageIndex { Manifests = manifests });
    }

    private static string ContainerdName(ImageSet content, string tag) => content.ContainerdNaming switch
    {
        ContainerdImageNaming.DockerQualified => QualifyLikeDocker(content.Repository) + ":" + tag,
        _ => content.Repository + ":" + tag,
    };

    /// <summary>
    /// Docker's normalisation of a repository name: a first component that is not a host (no '.'
    /// or ':', not "localhost", no capitals) means Docker Hub, and a single Docker Hub component
    /// lives under library/. "app" → "docker.io/library/app", "team/app" → "docker.io/team/app",
    /// "localhost:5000/app" and "registry.example.com/app" stay as they are.
    /// </summary>
    internal static string QualifyLikeDocker(string repository)
    {
        var slash = repository.IndexOf('/');
        string domain;
        string path;
        if (slash < 0)
        {
            (domain, path) = ("docker.io", repository);
        }
        else
        {
            var first = repository[..slash];
            var isHost = first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsUpper);
            (domain, path) = isHost ? (first, repository[(slash + 1)..]) : ("docker.io", repository);
        }
        if (domain == "index.docker.io")
        {
            domain = "docker.io";
        }
        if (domain == "docker.io" && !path.Contains('/'))
        {
            path = "library/" + path;
        }
        return domain + "/" + path;
    }

    /// <summary>docker's manifest.json for the single image: config, repo:tag names, layers in order.</summary>
    internal static byte[] BuildDockerManifestJson(ImageSet content)
    {
        var image = content.Images[0];
        var entry = new DockerManifestEntry(
            BlobPath(image.ConfigDigest),
            content.ImageNames,
            image.Layers.Select(l => BlobPath(l.Descriptor.Digest)).ToList());
        return OciJson.Serialize(new[] { entry });
    }

    private static async Task WriteLayerAsync(
        TarWriter writer, ImageLayer layer, Digest digest, Platform platform, DateTimeOffset timestamp, CancellationToken ct)
    {
        var source = await layer.Source.OpenAsync(ct).ConfigureAwait(false);
        var data = new VerifyingBlobStream(source, digest, layer.Descriptor.Size, $"layer {digest} of {platform}");
        await using (data.ConfigureAwait(false))
        {
            var entry = NewEntry(TarEntryType.RegularFile, BlobPath(digest), FileMode, timestamp);
            entry.DataStream = data;
            await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
        }
    }

    private static async Task WriteFileAsync(TarWriter writer, string name, byte[] bytes, DateTimeOffset timestamp, CancellationToken ct)
    {
        using var data = new MemoryStream(bytes, writable: false);
        var entry = NewEntry(TarEntryType.RegularFile, name, FileMode, timestamp);
        entry.DataStream = data;
        await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
    }

    private static Task WriteDirectoryAsync(TarWriter writer, string name, DateTimeOffset timestamp, CancellationToken ct) =>
        writer.WriteEntryAsync(NewEntry(TarEntryType.Directory, name, DirectoryMode, timestamp), ct);

    private static GnuTarEntry NewEntry(TarEntryType type, string name, UnixFileMode mode, DateTimeOffset timestamp) =>
        new(type, name)
        {
            Mode = mode,
            Uid = 0,
            Gid = 0,
            UserName = string.Empty,
            GroupName = string.Empty,
            ModificationTime = timestamp,
            // GNU headers have access and change time fields too; pin them so nothing varies.
            AccessTime = timestamp,
            ChangeTime = timestamp,
        };

    private static void VerifyBytes(byte[] bytes, Digest expected, string what)
    {
        var actual = Digest.Of(bytes);
        if (actual != expected)
        {
            throw new ZstdContainersException(
                ErrorCodes.ArchiveBlobMismatch,
                $"The {what} hashes to {actual}, but the image refers to it as {expected}, so the archive would not load. This is a bug in the image builder; please report it with the build log.");
        }
    }

    private sealed record DockerManifestEntry(
        [property: JsonPropertyName("Config")] string Config,
        [property: JsonPropertyName("RepoTags")] IReadOnlyList<string> RepoTags,
        [property: JsonPropertyName("Layers")] IReadOnlyList<string> Layers);
}
