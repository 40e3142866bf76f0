using ZstdContainers.Destinations;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Destinations;

/// <summary>ContainerArchiveOutputPath: a file as is, or a folder that gets &lt;repository&gt;.tar.gz.</summary>
public sealed class ArchivePathsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-archivepaths-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("image.tar")]
    [InlineData("image.tar.gz")]
    [InlineData("out/my-image.oci")]
    public void A_path_with_an_extension_is_the_file_itself(string relative)
    {
        var path = Path.Combine(_root, relative);

        Assert.Equal(path, ArchivePaths.Resolve(path, "myapp"));
    }

    [Fact]
    public void A_relative_path_is_made_absolute_and_surrounding_whitespace_trimmed()
    {
        Assert.Equal(Path.GetFullPath("rel/image.tar"), ArchivePaths.Resolve("  rel/image.tar ", "myapp"));
    }

    [Fact]
    public void A_trailing_slash_means_a_folder()
    {
        Assert.Equal(Path.Combine(_root, "out.d", "myapp.tar.gz"), ArchivePaths.Resolve(Path.Combine(_root, "out.d") + "/", "myapp"));
    }

    [Fact]
    public void A_path_without_an_extension_means_a_folder_even_when_it_does_not_exist()
    {
        var folder = Path.Combine(_root, "not-yet", "images");

        Assert.Equal(Path.Combine(folder, "myapp.tar.gz"), ArchivePaths.Resolve(folder, "myapp"));
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void An_existing_directory_whose_name_has_a_dot_is_a_folder()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_root, "v1.2")).FullName;

        Assert.Equal(Path.Combine(folder, "myapp.tar.gz"), ArchivePaths.Resolve(folder, "myapp"));
    }

    [Fact]
    public void A_repository_with_slashes_gives_subfolders()
    {
        var resolved = ArchivePaths.Resolve(Path.Combine(_root, "out") + "/", "team/sub/app");

        Assert.Equal(Path.Combine(_root, "out", "team", "sub", "app.tar.gz"), resolved);
    }

    [Fact]
    public void EnsureWritable_creates_missing_folders_and_leaves_no_probe_behind()
    {
        var path = ArchivePaths.Resolve(Path.Combine(_root, "a", "b") + "/", "team/app");

        ArchivePaths.EnsureWritable(path);

        var folder = Path.Combine(_root, "a", "b", "team");
        Assert.True(Directory.Exists(folder));
        Assert.Empty(Directory.GetFileSystemEntries(folder));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void EnsureWritable_under_a_regular_file_fails_ZSTDC1009()
    {
        var file = Path.Combine(_root, "plain-file");
        File.WriteAllText(file, "x");
        var path = Path.Combine(file, "sub", "image.tar");

        var e = Assert.Throws<ZstdContainersException>(() => ArchivePaths.EnsureWritable(path));

        Assert.Equal("ZSTDC1009", e.Code);
        Assert.StartsWith($"The image archive '{path}' (from ContainerArchiveOutputPath) cannot be written: ", PropertyNames.Render(e.Message));
        Assert.EndsWith(" Choose a folder you can write to.", e.Message);
    }

    /// <summary>
    /// The archive is finally moved onto this path (File.Move(temp, path, overwrite: true)), which
    /// fails when a folder sits there — after the base image was pulled and every layer built.
    /// EnsureWritable exists to catch that up front.
    /// </summary>
    [Fact]
    public void EnsureWritable_when_a_folder_occupies_the_archive_path_fails_ZSTDC1009()
    {
        var path = ArchivePaths.Resolve(Path.Combine(_root, "out") + "/", "myapp");
        Directory.CreateDirectory(path);

        var e = Assert.Throws<ZstdContainersException>(() => ArchivePaths.EnsureWritable(path));

        Assert.Equal("ZSTDC1009", e.Code);
        Assert.StartsWith($"The image archive '{path}' (from ContainerArchiveOutputPath) cannot be written: ", PropertyNames.Render(e.Message));
    }

    [Fact]
    public void The_writability_probe_never_follows_a_link_planted_at_a_guessable_name()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var archive = Path.Combine(_root, "out", "app.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);
        var victim = Path.Combine(_root, "victim.txt");
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(archive + ".probe-" + Environment.ProcessId, victim);

        ArchivePaths.EnsureWritable(archive);

        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Equal([archive + ".probe-" + Environment.ProcessId], Directory.GetFileSystemEntries(Path.GetDirectoryName(archive)!));
    }

    [Fact]
    public async Task The_archive_is_written_under_an_unguessable_private_name_and_ends_with_the_users_default_mode()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var archive = Path.Combine(_root, "app.tar");
        var victim = Path.Combine(_root, "victim.txt");
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(archive + ".partial-" + Environment.ProcessId, victim);
        var modes = new List<UnixFileMode>();
        var image = TestImages.Image(TestImages.Amd64, [TestImages.Layer(new byte[100], source: new ObservingSource(new byte[100], () =>
        {
            foreach (var partial in Directory.GetFiles(_root, "app.tar.partial-*").Where(f => new FileInfo(f).LinkTarget is null))
            {
                modes.Add(File.GetUnixFileMode(partial));
            }
        }))]);
        var sink = new ArchiveSink(archive);
        sink.CheckWritable();

        await sink.ShipAsync(new ImageSet { Images = [image], Repository = "app", Tags = ["1"] }, CancellationToken.None);

        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Assert.Single(modes));
        var expected = DefaultMode(_root);
        Assert.Equal(expected, File.GetUnixFileMode(archive));
        Assert.Equal(3, Directory.GetFileSystemEntries(_root).Length); // the archive, the victim and the planted link: no partial file left
    }

    private static UnixFileMode DefaultMode(string folder)
    {
        var path = Path.Combine(folder, "mode-probe");
        File.WriteAllBytes(path, []);
        var mode = File.GetUnixFileMode(path);
        File.Delete(path);
        return mode;
    }

    private sealed class ObservingSource(byte[] bytes, Action onOpen) : ZstdContainers.Oci.IBlobSource
    {
        public Task<Stream> OpenAsync(CancellationToken cancellationToken)
        {
            onOpen();
            return Task.FromResult<Stream>(new MemoryStream(bytes, writable: false));
        }
    }
}
