using ZstdContainers.Destinations;

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
        Assert.StartsWith($"The image archive '{path}' (from ContainerArchiveOutputPath) cannot be written: ", e.Message);
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
        Assert.StartsWith($"The image archive '{path}' (from ContainerArchiveOutputPath) cannot be written: ", e.Message);
    }
}
