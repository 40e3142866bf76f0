using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Destinations;

public sealed class OciArchiveWriterTests
{
    private static readonly DateTimeOffset DefaultStamp = DateTimeOffset.FromUnixTimeSeconds(1);

    /// <summary>Like a pipe to `docker load`: write-only, not seekable.</summary>
    private sealed class PipeLikeStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(buffer, cancellationToken);
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private sealed record Entry(string Name, TarEntryType Type, TarEntryFormat Format, UnixFileMode Mode, int Uid, int Gid, DateTimeOffset MTime, byte[] Data);

    private static async Task<byte[]> WriteAsync(ImageSet content)
    {
        using var buffer = new MemoryStream();
        await OciArchiveWriter.WriteAsync(new PipeLikeStream(buffer), content, CancellationToken.None);
        return buffer.ToArray();
    }

    private static List<Entry> Read(byte[] archive)
    {
        using var reader = new TarReader(new MemoryStream(archive));
        var entries = new List<Entry>();
        while (reader.GetNextEntry(copyData: true) is { } e)
        {
            var data = Array.Empty<byte>();
            if (e.DataStream is { } s)
            {
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                data = ms.ToArray();
            }
            entries.Add(new Entry(e.Name, e.EntryType, e.Format, e.Mode, e.Uid, e.Gid, e.ModificationTime, data));
        }
        return entries;
    }

    private static JsonElement Json(byte[] bytes) => JsonDocument.Parse(bytes).RootElement.Clone();

    private static string BlobName(string digest) => "blobs/sha256/" + digest["sha256:".Length..];

    [Fact]
    public async Task Single_image_archive_has_the_oci_layout_and_docker_files_in_a_fixed_order()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("base"), TestImages.Layer("app")]);

        var entries = Read(await WriteAsync(TestImages.Single(image, "zc/sample", "1.0", "latest")));

        var layers = image.Layers.Select(l => BlobName(l.Descriptor.Digest.Value)).ToList();
        Assert.Equal(
            ["oci-layout", "index.json", "manifest.json", "blobs/", "blobs/sha256/",
             BlobName(image.ManifestDigest.Value), BlobName(image.ConfigDigest.Value), layers[0], layers[1]],
            entries.Select(e => e.Name));
        Assert.Equal("{\"imageLayoutVersion\":\"1.0.0\"}", Encoding.UTF8.GetString(entries[0].Data));
    }

    [Fact]
    public async Task Entries_are_gnu_format_without_pax_headers_with_fixed_owner_modes_and_time()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app")]);

        var entries = Read(await WriteAsync(TestImages.Single(image)));

        Assert.All(entries, e =>
        {
            Assert.Equal(TarEntryFormat.Gnu, e.Format);
            Assert.Equal((0, 0), (e.Uid, e.Gid));
            Assert.Equal(DefaultStamp, e.MTime);
            Assert.DoesNotContain("PaxHeaders", e.Name, StringComparison.Ordinal);
        });
        Assert.All(entries.Where(e => e.Type == TarEntryType.Directory), e => Assert.Equal((UnixFileMode)0b111_101_101, e.Mode));
        Assert.All(entries.Where(e => e.Type != TarEntryType.Directory), e =>
        {
            Assert.Equal(TarEntryType.RegularFile, e.Type);
            Assert.Equal((UnixFileMode)0b110_100_100, e.Mode);
        });
    }

    [Fact]
    public async Task Timestamp_of_the_content_is_stamped_on_every_entry()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app")]);
        var stamp = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

        var entries = Read(await WriteAsync(TestImages.Single(image) with { Timestamp = stamp }));

        Assert.All(entries, e => Assert.Equal(stamp, e.MTime));
    }

    [Fact]
    public async Task Index_json_names_the_manifest_once_per_tag_for_containerd_and_podman()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app")]);

        var entries = Read(await WriteAsync(TestImages.Single(image, "contoso/web", "1.2.3", "latest", "1.2.3")));
        var index = Json(entries.Single(e => e.Name == "index.json").Data);

        Assert.Equal(2, index.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(MediaTypes.OciIndex, index.GetProperty("mediaType").GetString());
        var manifests = index.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(2, manifests.Count); // the duplicate tag is dropped
        foreach (var (descriptor, tag) in manifests.Zip(new[] { "1.2.3", "latest" }))
        {
            Assert.Equal(MediaTypes.OciManifest, descriptor.GetProperty("mediaType").GetString());
            Assert.Equal(image.ManifestDigest.Value, descriptor.GetProperty("digest").GetString());
            Assert.Equal(image.Manifest.Length, descriptor.GetProperty("size").GetInt64());
            Assert.Equal("amd64", descriptor.GetProperty("platform").GetProperty("architecture").GetString());
            var annotations = descriptor.GetProperty("annotations");
            Assert.Equal("contoso/web:" + tag, annotations.GetProperty("io.containerd.image.name").GetString());
            Assert.Equal(tag, annotations.GetProperty("org.opencontainers.image.ref.name").GetString());
        }
    }

    [Theory]
    [InlineData("app", "docker.io/library/app")]
    [InlineData("team/app", "docker.io/team/app")]
    [InlineData("team/sub/app", "docker.io/team/sub/app")]
    [InlineData("docker.io/app", "docker.io/library/app")]
    [InlineData("index.docker.io/team/app", "docker.io/team/app")]
    [InlineData("localhost/app", "localhost/app")]
    [InlineData("localhost:5000/app", "localhost:5000/app")]
    [InlineData("registry.example.com/team/app", "registry.example.com/team/app")]
    public void Docker_qualifies_short_names_the_way_docker_resolves_them(string repository, string qualified) =>
        Assert.Equal(qualified, OciArchiveWriter.QualifyLikeDocker(repository));

    [Fact]
    public async Task Docker_qualified_naming_changes_only_the_containerd_name()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app")]);
        var content = TestImages.Single(image, "web", "1.0") with { ContainerdNaming = ContainerdImageNaming.DockerQualified };

        var entries = Read(await WriteAsync(content));

        var annotations = Json(entries.Single(e => e.Name == "index.json").Data).GetProperty("manifests")[0].GetProperty("annotations");
        Assert.Equal("docker.io/library/web:1.0", annotations.GetProperty("io.containerd.image.name").GetString());
        Assert.Equal("1.0", annotations.GetProperty("org.opencontainers.image.ref.name").GetString());
        Assert.Equal("web:1.0", Json(entries.Single(e => e.Name == "manifest.json").Data)[0].GetProperty("RepoTags")[0].GetString());
    }

    [Fact]
    public async Task Manifest_json_lets_docker_load_find_config_tags_and_layers_in_order()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("base"), TestImages.Layer("app")]);

        var entries = Read(await WriteAsync(TestImages.Single(image, "contoso/web", "1.2.3", "latest")));
        var manifest = Json(entries.Single(e => e.Name == "manifest.json").Data);

        var only = Assert.Single(manifest.EnumerateArray());
        Assert.Equal(BlobName(image.ConfigDigest.Value), only.GetProperty("Config").GetString());
        Assert.Equal(["contoso/web:1.2.3", "contoso/web:latest"], only.GetProperty("RepoTags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(image.Layers.Select(l => BlobName(l.Descriptor.Digest.Value)), only.GetProperty("Layers").EnumerateArray().Select(t => t.GetString()));
        var names = entries.Select(e => e.Name).ToHashSet();
        Assert.Contains(only.GetProperty("Config").GetString()!, names);
        Assert.All(only.GetProperty("Layers").EnumerateArray(), l => Assert.Contains(l.GetString()!, names));
    }

    [Fact]
    public async Task Every_blob_is_named_by_the_sha256_of_its_bytes_and_every_reference_resolves()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("base"), TestImages.Layer("app")]);

        var entries = Read(await WriteAsync(TestImages.Single(image)));
        var blobs = entries.Where(e => e.Name.StartsWith("blobs/sha256/", StringComparison.Ordinal) && e.Type == TarEntryType.RegularFile).ToList();

        Assert.All(blobs, b => Assert.Equal(b.Name["blobs/sha256/".Length..], Convert.ToHexStringLower(SHA256.HashData(b.Data))));
        var byName = blobs.ToDictionary(b => b.Name, b => b.Data);
        var manifest = OciJson.Deserialize<ImageManifest>(byName[BlobName(image.ManifestDigest.Value)]);
        Assert.Equal(image.Config, byName[BlobName(manifest.Config.Digest.Value)]);
        Assert.All(manifest.Layers, l => Assert.Equal(l.Size, byName[BlobName(l.Digest.Value)].Length));
    }

    [Fact]
    public async Task Multi_platform_archive_names_the_index_writes_shared_layers_once_and_has_no_manifest_json()
    {
        var sharedSource = new BytesBlobSource(Encoding.UTF8.GetBytes("shared base layer"));
        var shared = TestImages.Layer(Encoding.UTF8.GetBytes("shared base layer"), source: sharedSource);
        var amd64 = TestImages.Image(TestImages.Amd64, [shared, TestImages.Layer("app amd64")]);
        var arm64 = TestImages.Image(TestImages.Arm64, [shared, TestImages.Layer("app arm64")]);
        var index = TestImages.IndexOf(amd64, arm64);
        var content = new ImageSet { Images = [amd64, arm64], Index = index, Repository = "zc/multi", Tags = ["2.0", "latest"] };

        var entries = Read(await WriteAsync(content));
        var names = entries.Select(e => e.Name).ToList();

        Assert.DoesNotContain("manifest.json", names);
        Assert.Single(names, n => n == BlobName(shared.Descriptor.Digest.Value));
        Assert.Equal(1, sharedSource.Opened);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Contains(BlobName(index.Digest.Value), names);
        Assert.Contains(BlobName(amd64.ManifestDigest.Value), names);
        Assert.Contains(BlobName(arm64.ManifestDigest.Value), names);
        Assert.Contains(BlobName(arm64.ConfigDigest.Value), names);
        Assert.Equal(index.Content, entries.Single(e => e.Name == BlobName(index.Digest.Value)).Data);

        var indexJson = Json(entries.Single(e => e.Name == "index.json").Data);
        var descriptors = indexJson.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(2, descriptors.Count);
        Assert.All(descriptors, d =>
        {
            Assert.Equal(MediaTypes.OciIndex, d.GetProperty("mediaType").GetString());
            Assert.Equal(index.Digest.Value, d.GetProperty("digest").GetString());
            Assert.Equal(index.Content.Length, d.GetProperty("size").GetInt64());
            Assert.False(d.TryGetProperty("platform", out _));
        });
        Assert.Equal(
            ["zc/multi:2.0", "zc/multi:latest"],
            descriptors.Select(d => d.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString()));
    }

    [Fact]
    public async Task Same_content_twice_gives_identical_bytes()
    {
        static ImageSet Build() =>
            TestImages.Single(TestImages.Image(TestImages.Amd64, [TestImages.Layer("base"), TestImages.Layer("app")]), "zc/det", "1", "2");

        var first = await WriteAsync(Build());
        await Task.Delay(1100); // a wall-clock second later: no timestamp may leak in
        var second = await WriteAsync(Build());

        Assert.Equal(first, second);
    }

    [Fact]
    public async Task A_layer_whose_bytes_do_not_match_its_digest_fails_with_a_code()
    {
        var good = TestImages.Layer("the real layer");
        var tampered = good with { Source = new BytesBlobSource(Encoding.UTF8.GetBytes("the fake layer")) }; // same size, other bytes
        var image = TestImages.Image(TestImages.Amd64, [tampered]);

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => WriteAsync(TestImages.Single(image)));

        Assert.Equal(ErrorCodes.ArchiveBlobMismatch, error.Code);
        Assert.Contains(good.Descriptor.Digest.Value, error.Message, StringComparison.Ordinal);
        Assert.Contains("linux/amd64", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("a layer that is longer than its descriptor says")]
    public async Task A_layer_of_the_wrong_size_fails_with_a_code(string actual)
    {
        var good = TestImages.Layer("a layer of some size");
        var wrong = good with { Source = new BytesBlobSource(Encoding.UTF8.GetBytes(actual)) };
        var image = TestImages.Image(TestImages.Amd64, [wrong]);

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => WriteAsync(TestImages.Single(image)));

        Assert.Equal(ErrorCodes.ArchiveBlobMismatch, error.Code);
        Assert.Contains("bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_manifest_that_does_not_match_its_digest_fails_before_anything_is_written()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app")]);
        var broken = image with { Manifest = [.. image.Manifest, (byte)' '] };
        using var output = new MemoryStream();

        var error = await Assert.ThrowsAsync<ZstdContainersException>(
            () => OciArchiveWriter.WriteAsync(output, TestImages.Single(broken), CancellationToken.None));

        Assert.Equal(ErrorCodes.ArchiveBlobMismatch, error.Code);
        Assert.Equal(0, output.Length);
    }

    [Fact]
    public async Task Several_images_without_an_index_are_refused()
    {
        var a = TestImages.Image(TestImages.Amd64, [TestImages.Layer("a")]);
        var b = TestImages.Image(TestImages.Arm64, [TestImages.Layer("b")]);
        var content = new ImageSet { Images = [a, b], Repository = "zc/x", Tags = ["1"] };

        await Assert.ThrowsAsync<ArgumentException>(() => OciArchiveWriter.WriteAsync(Stream.Null, content, CancellationToken.None));
    }

    [Fact]
    public async Task Cancellation_stops_the_write()
    {
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer("app")]);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => OciArchiveWriter.WriteAsync(new MemoryStream(), TestImages.Single(image), cts.Token));
    }
}
