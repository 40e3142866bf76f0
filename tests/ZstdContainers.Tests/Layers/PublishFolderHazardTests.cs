using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using ZstdContainers.Layers;
using ZstdContainers.Tests.Building;

namespace ZstdContainers.Tests.Layers;

/// <summary>
/// What a publish folder can hold that must not leak into, hang or corrupt the app layer: links to
/// folders elsewhere, a link to itself, files that change or vanish while tarred, special files,
/// names that are not UTF-8. Unix only where the file system feature is.
/// </summary>
public sealed class PublishFolderHazardTests : IDisposable
{
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(30);
    private readonly string _root = Directory.CreateTempSubdirectory("zc-hazard-").FullName;
    private readonly RecordingBuildLog _log = new();

    public void Dispose()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.Delete(_root, recursive: true);
        }
        else
        {
            Run("rm", "-rf", _root); // .NET cannot name the file whose name is not UTF-8
        }
    }

    private string Publish => Path.Combine(_root, "publish");

    private string MakePublishFolder()
    {
        Directory.CreateDirectory(Publish);
        File.WriteAllText(Path.Combine(Publish, "app.dll"), "app");
        return Publish;
    }

    // The tar is written on another thread so a hang shows up as a failed test, not a stuck run.
    private List<TarEntry> Entries(Func<Stream, Stream>? wrapOutput = null)
    {
        using var ms = new MemoryStream();
        var output = wrapOutput?.Invoke(ms) ?? ms;
        var writer = new DirectoryLayerWriter(Publish, "/app/", new LayerEntryPolicy(), log: _log);
        var run = Task.Run(() => writer.WriteTar(output, CancellationToken.None));
        try
        {
            run.Wait(HangLimit);
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
        }
        Assert.True(run.IsCompleted, $"Writing the tar did not finish within {HangLimit.TotalSeconds} s.");
        ms.Position = 0;
        using var reader = new TarReader(ms);
        var list = new List<TarEntry>();
        while (reader.GetNextEntry(copyData: true) is { } e)
        {
            list.Add(e);
        }
        return list;
    }

    [Fact]
    public void A_link_to_a_folder_outside_is_stored_as_a_link_and_nothing_behind_it_is_read()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // symlinks need privileges on Windows
        }
        var secrets = Directory.CreateDirectory(Path.Combine(_root, "secrets")).FullName;
        File.WriteAllText(Path.Combine(secrets, "token.txt"), "s3cr3t");
        MakePublishFolder();
        Directory.CreateSymbolicLink(Path.Combine(Publish, "data"), secrets);

        var entries = Entries();

        var link = Assert.Single(entries, e => e.Name == "app/data");
        Assert.Equal(TarEntryType.SymbolicLink, link.EntryType);
        Assert.Equal(secrets, link.LinkName);
        Assert.DoesNotContain(entries, e => e.Name.StartsWith("app/data/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_link_to_its_own_folder_is_stored_as_a_link_and_not_walked_into()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // symlinks need privileges on Windows
        }
        MakePublishFolder();
        Directory.CreateSymbolicLink(Path.Combine(Publish, "loop"), ".");

        var names = Entries().Select(e => e.Name).ToList();

        Assert.Equal(["app/", "app/app.dll", "app/loop"], names);
    }

    [Fact]
    public void A_file_that_grows_while_it_is_tarred_is_a_coded_error_naming_it()
    {
        MakePublishFolder();
        var growing = Path.Combine(Publish, "log.txt");
        File.WriteAllBytes(growing, new byte[10_000]);

        var e = Assert.Throws<ZstdContainersException>(() => Entries(ms => new OnEntryHeader(ms, "app/log.txt", () =>
        {
            using var append = new FileStream(growing, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            append.Write(new byte[5_000]);
        })));

        Assert.Equal(ErrorCodes.PublishFileChanged, e.Code);
        Assert.Contains(growing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_shrinks_while_it_is_tarred_is_a_coded_error_naming_it()
    {
        MakePublishFolder();
        var shrinking = Path.Combine(Publish, "log.txt");
        File.WriteAllBytes(shrinking, new byte[10_000]);

        var e = Assert.Throws<ZstdContainersException>(() => Entries(ms => new OnEntryHeader(ms, "app/log.txt", () =>
        {
            using var truncate = new FileStream(shrinking, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            truncate.SetLength(100);
        })));

        Assert.Equal(ErrorCodes.PublishFileChanged, e.Code);
        Assert.Contains(shrinking, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_vanishes_after_the_folder_was_listed_is_a_coded_error_naming_it()
    {
        MakePublishFolder();
        var vanishing = Path.Combine(Publish, "b.txt");
        File.WriteAllText(Path.Combine(Publish, "a.txt"), "a");
        File.WriteAllText(vanishing, "b");

        var e = Assert.Throws<ZstdContainersException>(() => Entries(ms => new OnEntryHeader(ms, "app/a.txt", () => File.Delete(vanishing))));

        Assert.Equal(ErrorCodes.PublishFileChanged, e.Code);
        Assert.Contains(vanishing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fifo_is_skipped_with_a_warning_naming_it_and_the_tar_completes()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // no FIFOs on Windows
        }
        MakePublishFolder();
        var fifo = Path.Combine(Publish, "app.sock");
        Run("mkfifo", fifo);

        var names = Entries().Select(e => e.Name).ToList();

        Assert.Equal(["app/", "app/app.dll"], names);
        var warning = Assert.Single(_log.Warnings);
        Assert.Equal(ErrorCodes.PublishSpecialFileSkipped, warning.Code);
        Assert.Contains(fifo, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_name_that_is_not_valid_UTF8_is_a_coded_error()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // only Linux file systems take any bytes as a name
        }
        MakePublishFolder();
        // bash's $'…' writes the raw byte 0xFF, which no UTF-8 text contains.
        Run("bash", "-c", "touch \"$0\"/$'caf\\xff.txt'", Publish);

        var e = Assert.Throws<ZstdContainersException>(() => Entries());

        Assert.Equal(ErrorCodes.PublishFileNameNotUtf8, e.Code);
        Assert.Contains(Publish, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FileAttributes.ReparsePoint, null, false)] // e.g. a OneDrive placeholder or a deduplicated file on Windows
    [InlineData(FileAttributes.ReparsePoint | FileAttributes.Directory, null, false)]
    [InlineData(FileAttributes.ReparsePoint, "target", true)]
    [InlineData(FileAttributes.ReparsePoint | FileAttributes.Directory, "target", true)]
    [InlineData(FileAttributes.Normal, null, false)]
    public void Only_a_reparse_point_with_a_link_target_is_a_link(FileAttributes attributes, string? linkTarget, bool isLink)
    {
        Assert.Equal(isLink, FolderEntries.IsLink(attributes, linkTarget));
    }

    private static void Run(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { UseShellExecute = false })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>Runs an action once, right after the tar header naming <c>entryName</c> went by.</summary>
    private sealed class OnEntryHeader(Stream inner, string entryName, Action action) : Stream
    {
        private readonly byte[] _name = Encoding.UTF8.GetBytes(entryName + "\0");
        private bool _done;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            if (!_done && buffer.IndexOf(_name) >= 0)
            {
                _done = true;
                action();
            }
        }

        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
