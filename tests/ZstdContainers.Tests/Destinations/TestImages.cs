using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Destinations;

/// <summary>A blob held in memory; counts how often it is opened.</summary>
internal sealed class BytesBlobSource(byte[] bytes) : IBlobSource
{
    public int Opened { get; private set; }

    public Task<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        Opened++;
        return Task.FromResult<Stream>(new MemoryStream(bytes, writable: false));
    }
}

/// <summary>Builds small images for the destination tests.</summary>
internal static class TestImages
{
    public static readonly Platform Amd64 = new() { Os = "linux", Architecture = "amd64" };
    public static readonly Platform Arm64 = new() { Os = "linux", Architecture = "arm64", Variant = "v8" };

    /// <summary>The platform of this machine, so containerd imports and runs the image.</summary>
    public static Platform Host => RuntimeInformation.OSArchitecture switch
    {
        Architecture.Arm64 => Arm64,
        _ => Amd64,
    };

    /// <summary>A layer whose "blob" is arbitrary bytes (the archive writer never decompresses it).</summary>
    public static ImageLayer Layer(byte[] blob, string mediaType = MediaTypes.OciLayerZstd, IBlobSource? source = null) =>
        new(
            new Descriptor { MediaType = mediaType, Digest = Digest.Of(blob), Size = blob.Length },
            Digest.Of([.. blob, 0x42]), // a stand-in diff_id; only the config refers to it
            source ?? new BytesBlobSource(blob));

    public static ImageLayer Layer(string text) => Layer(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>An image with a real config and manifest over the given layers.</summary>
    public static BuiltImage Image(Platform platform, IReadOnlyList<ImageLayer> layers, IReadOnlyList<string>? entrypoint = null)
    {
        var config = new JsonObject
        {
            ["architecture"] = platform.Architecture,
            ["os"] = platform.Os,
            ["config"] = new JsonObject
            {
                ["Entrypoint"] = new JsonArray((entrypoint ?? ["/bin/true"]).Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            },
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray(layers.Select(l => (JsonNode?)JsonValue.Create(l.DiffId.Value)).ToArray()),
            },
        };
        if (platform.Variant is not null)
        {
            config["variant"] = platform.Variant;
        }
        var configBytes = OciJson.Serialize(config);
        var configDigest = Digest.Of(configBytes);
        var manifest = new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest, Size = configBytes.Length },
            Layers = layers.Select(l => l.Descriptor).ToList(),
        };
        var manifestBytes = OciJson.Serialize(manifest);
        return new BuiltImage(manifestBytes, Digest.Of(manifestBytes), MediaTypes.OciManifest, configBytes, configDigest, layers, platform);
    }

    public static IndexBlob IndexOf(params BuiltImage[] images)
    {
        var bytes = OciJson.Serialize(new ImageIndex { Manifests = images.Select(i => i.ManifestDescriptor).ToList() });
        return new IndexBlob(bytes, Digest.Of(bytes), MediaTypes.OciIndex);
    }

    public static ImageSet Single(BuiltImage image, string repository = "zc/sample", params string[] tags) => new()
    {
        Images = [image],
        Repository = repository,
        Tags = tags.Length == 0 ? ["1.0"] : tags,
    };

    /// <summary>
    /// A runnable image: one zstd layer holding a static busybox at /bin/busybox (written with the
    /// product's DirectoryLayerWriter and ZstdBlobWriter), entrypoint busybox echo <paramref name="message"/>.
    /// Null when this machine has no static busybox (apt-get install busybox-static).
    /// </summary>
    public static async Task<BuiltImage?> BusyboxImageAsync(string workDirectory, string message, CancellationToken ct)
    {
        var busybox = FindStaticBusybox();
        if (busybox is null)
        {
            return null;
        }
        var root = Path.Combine(workDirectory, "rootfs");
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        var target = Path.Combine(root, "bin", "busybox");
        File.Copy(busybox, target, overwrite: true);
        File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);

        var blobPath = Path.Combine(workDirectory, "layer.tar.zst");
        var writer = new DirectoryLayerWriter(root, "/", new LayerEntryPolicy());
        var blob = await ZstdBlobWriter.WriteDirectoryAsync(writer, blobPath, new ZstdSettings(3), ct);
        var layer = new ImageLayer(blob.Descriptor, blob.DiffId, new FileBlobSource(blob.FilePath));
        return Image(Host, [layer], ["/bin/busybox", "echo", message]);
    }

    /// <summary>busybox-static installs /bin/busybox; a dynamically linked one would not run in an empty image.</summary>
    internal static string? FindStaticBusybox()
    {
        foreach (var candidate in new[] { "/bin/busybox", "/usr/bin/busybox" })
        {
            if (File.Exists(candidate) && IsStaticElf(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static bool IsStaticElf(string path)
    {
        // An ELF without a PT_INTERP program header has no dynamic loader: it is static.
        using var file = File.OpenRead(path);
        var header = new byte[64];
        if (file.Read(header) < 64 || header[0] != 0x7F || header[1] != (byte)'E' || header[4] != 2)
        {
            return false; // not a 64-bit ELF
        }
        var programHeaderOffset = BitConverter.ToInt64(header, 0x20);
        var entrySize = BitConverter.ToUInt16(header, 0x36);
        var count = BitConverter.ToUInt16(header, 0x38);
        var entry = new byte[entrySize];
        for (var i = 0; i < count; i++)
        {
            file.Position = programHeaderOffset + ((long)i * entrySize);
            if (file.Read(entry) < entrySize)
            {
                return false;
            }
            if (BitConverter.ToUInt32(entry, 0) == 3) // PT_INTERP
            {
                return false;
            }
        }
        return true;
    }
}
