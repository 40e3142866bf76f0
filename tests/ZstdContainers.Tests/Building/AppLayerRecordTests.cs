using ZstdContainers.Building;
using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// The project's app layer record (obj/zstdcontainers/app-layers.json): an unchanged publish folder
/// is recognised from file metadata, without reading its files, and anything that changes the tar
/// misses it, so the image is the same with and without the record.
/// </summary>
public sealed class AppLayerRecordTests : IDisposable
{
    private const string Target = "apps/web";
    private static readonly DateTime Yesterday = DateTime.UtcNow.AddDays(-1);
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-app-record-").FullName;
    private readonly FakeRegistry _fake = new();
    private readonly CapturingLog _log = new();
    private readonly FakeBaseImage _baseImage;
    private readonly string _publish;

    public AppLayerRecordTests()
    {
        _baseImage = FakeBaseImage.Push(_fake, _root);
        _publish = LayerTestData.MakeFolder(Path.Combine(_root, "publish"));
        // Written long ago, as a publish folder is by the time a second publish runs: a file
        // written in the last seconds is never recorded (its timestamp may not yet tell a later write apart).
        foreach (var file in Directory.EnumerateFiles(_publish, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(file, Yesterday);
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string RecordFile => Path.Combine(_root, "obj", "zstdcontainers", "app-layers.json");

    private ImageRequest Request(string tag, bool record = true, string? sourceDateEpoch = null, string repository = Target) =>
        BuildingTestKit.Request() with
        {
            BaseImage = _baseImage.Reference,
            PublishDirectory = _publish,
            Repository = repository,
            Tags = [tag],
            OutputRegistry = RegistryTestHelpers.Registry,
            SourceDateEpoch = sourceDateEpoch,
            Compression = new CompressionOptions
            {
                UseZstd = true,
                CacheDirectory = Path.Combine(_root, "cache"),
                AppLayerRecordFile = record ? RecordFile : null,
            },
        };

    private async Task<ImagePublishResult> PublishAsync(ImageRequest request)
    {
        var options = RegistryTestHelpers.Options(_fake, _log);
        var sink = ImageSinks.For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRuntime, request.Repository, options, _log);
        return await new ContainerImagePublisher(options, _log).PublishAsync(request, sink, CancellationToken.None);
    }

    private bool RecognisedFromRecord => _log.Lines.Any(l => l.Contains("recognised from obj/ record, not re-read", StringComparison.Ordinal));

    private static Digest AppDiffId(ImagePublishResult result) => result.Image.Layers[^1].DiffId;

    // The publish after an edit has a new app layer, the one a publish without the record builds.
    private async Task AssertEditIsInTheImageAsync(ImagePublishResult beforeEdit, ImagePublishResult afterEdit)
    {
        var expected = await PublishAsync(Request("1.0", record: false, repository: "apps/other"));
        Assert.NotEqual(AppDiffId(beforeEdit), AppDiffId(afterEdit));
        Assert.Equal(AppDiffId(expected), AppDiffId(afterEdit));
    }

    [Fact]
    public async Task An_unchanged_folder_is_recognised_from_the_record_without_reading_its_files_and_gives_the_same_image()
    {
        var first = await PublishAsync(Request("1.0"));
        Assert.True(File.Exists(RecordFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(RecordFile));
        }
        var second = await PublishAsync(Request("1.0"));

        Assert.True(RecognisedFromRecord);
        Assert.Equal(first.Image.Layers.Select(l => l.Descriptor.Digest), second.Image.Layers.Select(l => l.Descriptor.Digest));
        Assert.Equal(["from registry cache"], second.Report.Layers.Skip(2).Select(l => l.Prepared));

        // Proof the files were not read: new bytes of the same size under the same timestamp are
        // not seen (what MSBuild's incremental build trusts too), while a publish without the record reads them.
        var dll = Path.Combine(_publish, "app.dll");
        var bytes = File.ReadAllBytes(dll);
        bytes[0] ^= 0xff;
        File.WriteAllBytes(dll, bytes);
        File.SetLastWriteTimeUtc(dll, Yesterday);
        var trusted = await PublishAsync(Request("1.0"));
        var read = await PublishAsync(Request("1.0", record: false));
        Assert.Equal(AppDiffId(first), AppDiffId(trusted));
        Assert.NotEqual(AppDiffId(first), AppDiffId(read));
    }

    [Fact]
    public async Task The_image_is_the_same_with_and_without_the_record()
    {
        await PublishAsync(Request("1.0"));
        var withRecord = await PublishAsync(Request("1.0"));
        Assert.True(RecognisedFromRecord);

        var without = await PublishAsync(Request("1.0", record: false, repository: "apps/other"));

        Assert.Equal(without.Image.Layers.Select(l => l.Descriptor.Digest), withRecord.Image.Layers.Select(l => l.Descriptor.Digest));
        Assert.Equal(without.Image.Layers.Select(l => l.DiffId), withRecord.Image.Layers.Select(l => l.DiffId));
    }

    [Fact]
    public async Task A_touched_file_misses_the_record_and_the_tar_is_hashed_again()
    {
        var first = await PublishAsync(Request("1.0"));
        File.SetLastWriteTimeUtc(Path.Combine(_publish, "app.dll"), Yesterday.AddMinutes(1));

        var second = await PublishAsync(Request("1.0"));

        Assert.False(RecognisedFromRecord);
        // Same content, so the hash finds the same blob in the registry.
        Assert.Equal(first.Image.Layers.Select(l => l.Descriptor.Digest), second.Image.Layers.Select(l => l.Descriptor.Digest));
        Assert.Contains(_log.Lines, l => l.Contains("tar unchanged, zstd from the registry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_changed_file_misses_the_record_and_its_new_content_is_in_the_image()
    {
        var first = await PublishAsync(Request("1.0"));
        File.AppendAllText(Path.Combine(_publish, "app.runtimeconfig.json"), " ");

        var second = await PublishAsync(Request("1.0"));
        Assert.False(RecognisedFromRecord);
        await AssertEditIsInTheImageAsync(first, second);
    }

    [Fact]
    public async Task Another_entry_policy_misses_the_record()
    {
        await PublishAsync(Request("1.0", sourceDateEpoch: "1700000000"));

        var second = await PublishAsync(Request("1.0", sourceDateEpoch: "1700000001"));
        var expected = await PublishAsync(Request("1.0", record: false, sourceDateEpoch: "1700000001", repository: "apps/other"));

        Assert.False(RecognisedFromRecord);
        Assert.Equal(AppDiffId(expected), AppDiffId(second));
    }

    [Fact]
    public async Task A_small_file_rewritten_with_the_same_bytes_still_matches_the_record()
    {
        // As the SDK does with web.config on every publish: new timestamp, same content.
        await PublishAsync(Request("1.0"));
        var config = Path.Combine(_publish, "app.runtimeconfig.json");
        File.WriteAllText(config, File.ReadAllText(config));

        await PublishAsync(Request("1.0"));

        Assert.True(RecognisedFromRecord);
    }

    [Fact]
    public async Task A_folder_written_seconds_ago_is_not_recorded()
    {
        File.SetLastWriteTimeUtc(Path.Combine(_publish, "app.dll"), DateTime.UtcNow);
        await PublishAsync(Request("1.0"));
        await PublishAsync(Request("1.0"));

        Assert.False(RecognisedFromRecord);
    }

    [Fact]
    public async Task A_damaged_record_file_is_ignored()
    {
        var first = await PublishAsync(Request("1.0"));
        File.WriteAllText(RecordFile, "{ not json");

        var second = await PublishAsync(Request("1.0"));

        Assert.False(RecognisedFromRecord);
        Assert.Equal(AppDiffId(first), AppDiffId(second));
    }

    private int SmallFilesReadByLastPublish() =>
        int.Parse(System.Text.RegularExpressions.Regex.Match(
            _log.Lines.Last(l => l.Contains("App layer fingerprints of", StringComparison.Ordinal)), @"\((\d+) small file\(s\) read").Groups[1].Value);

    [Fact]
    public async Task A_second_publish_of_an_unchanged_folder_reads_no_file_at_all()
    {
        await PublishAsync(Request("1.0"));
        Assert.Equal(1, SmallFilesReadByLastPublish());

        await PublishAsync(Request("1.0"));

        Assert.True(RecognisedFromRecord);
        Assert.Equal(0, SmallFilesReadByLastPublish());
    }

    [Fact]
    public async Task A_small_file_edited_to_the_same_size_with_a_new_timestamp_is_in_the_image()
    {
        var first = await PublishAsync(Request("1.0"));
        var config = Path.Combine(_publish, "app.runtimeconfig.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("{}", "[]", StringComparison.Ordinal));
        File.SetLastWriteTimeUtc(config, Yesterday.AddMinutes(1));

        var second = await PublishAsync(Request("1.0"));
        Assert.False(RecognisedFromRecord);
        await AssertEditIsInTheImageAsync(first, second);
    }

    [Fact]
    public async Task A_small_file_edited_in_place_keeping_size_timestamp_and_mode_is_not_seen_by_design()
    {
        // The contract large files always had: the record trusts size, last-write time and mode
        // (what MSBuild's incremental build trusts); deleting obj/ or publishing without it reads all.
        var first = await PublishAsync(Request("1.0"));
        var config = Path.Combine(_publish, "app.runtimeconfig.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("{}", "[]", StringComparison.Ordinal));
        File.SetLastWriteTimeUtc(config, Yesterday);

        var trusted = await PublishAsync(Request("1.0"));
        var read = await PublishAsync(Request("1.0", record: false));

        Assert.Equal(AppDiffId(first), AppDiffId(trusted));
        Assert.NotEqual(AppDiffId(first), AppDiffId(read));
    }

    [Fact]
    public async Task A_small_file_written_just_before_the_publish_is_read_again_next_time()
    {
        // Racy-clean guard: its hash is used but not kept, so a same-size rewrite within the same
        // clock tick (same timestamp) is still seen by the next publish.
        var config = Path.Combine(_publish, "app.runtimeconfig.json");
        var now = DateTime.UtcNow;
        File.SetLastWriteTimeUtc(config, now);
        var first = await PublishAsync(Request("1.0"));
        File.WriteAllText(config, File.ReadAllText(config).Replace("{}", "[]", StringComparison.Ordinal));
        File.SetLastWriteTimeUtc(config, now);

        var second = await PublishAsync(Request("1.0"));
        var readBySecond = SmallFilesReadByLastPublish();
        Assert.Equal(1, readBySecond);
        await AssertEditIsInTheImageAsync(first, second);
    }
}
