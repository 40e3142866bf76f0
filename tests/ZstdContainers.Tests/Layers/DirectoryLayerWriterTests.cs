using System.Formats.Tar;
using ZstdContainers.Layers;

namespace ZstdContainers.Tests.Layers;

public sealed class DirectoryLayerWriterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zc-layer-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string MakePublishFolder(string name)
    {
        var dir = Path.Combine(_root, name);
        Directory.CreateDirectory(Path.Combine(dir, "wwwroot", "css"));
        File.WriteAllText(Path.Combine(dir, "app.dll"), "not really an assembly");
        File.WriteAllText(Path.Combine(dir, "B.json"), "{}");
        File.WriteAllText(Path.Combine(dir, "wwwroot", "css", "site.css"), "body{}");
        File.WriteAllText(Path.Combine(dir, "app"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(dir, "app"), (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(dir, "B.json"), (UnixFileMode)0b110_110_110);
        return dir;
    }

    private static byte[] Tar(string dir, string containerDir = "/app/", LayerEntryPolicy? policy = null)
    {
        using var ms = new MemoryStream();
        new DirectoryLayerWriter(dir, containerDir, policy ?? new LayerEntryPolicy()).WriteTar(ms, CancellationToken.None);
        return ms.ToArray();
    }

    private static List<TarEntry> Entries(byte[] tar)
    {
        using var reader = new TarReader(new MemoryStream(tar));
        var list = new List<TarEntry>();
        while (reader.GetNextEntry(copyData: true) is { } e)
        {
            list.Add(e);
        }
        return list;
    }

    [Fact]
    public void Entries_are_sorted_ordinally_under_the_container_directory_with_parents()
    {
        var names = Entries(Tar(MakePublishFolder("p"))).Select(e => e.Name).ToList();

        Assert.Equal(
            ["app/", "app/B.json", "app/app", "app/app.dll", "app/wwwroot/", "app/wwwroot/css/", "app/wwwroot/css/site.css"],
            names);
    }

    [Fact]
    public void Nested_container_directory_gets_every_parent_directory_entry()
    {
        var names = Entries(Tar(MakePublishFolder("p"), "/srv/www/")).Select(e => e.Name).Take(2).ToList();

        Assert.Equal(["srv/", "srv/www/"], names);
    }

    [Fact]
    public void Modes_keep_only_the_execute_bit_and_owner_is_root()
    {
        var entries = Entries(Tar(MakePublishFolder("p"))).ToDictionary(e => e.Name);

        Assert.Equal((UnixFileMode)0b111_101_101, entries["app/app"].Mode);
        Assert.Equal((UnixFileMode)0b110_100_100, entries["app/B.json"].Mode);
        Assert.Equal((UnixFileMode)0b111_101_101, entries["app/wwwroot/"].Mode);
        Assert.All(entries.Values, e => Assert.Equal((0, 0), (e.Uid, e.Gid)));
        Assert.Equal(TarEntryType.Directory, entries["app/wwwroot/"].EntryType);
    }

    [Fact]
    public void Same_content_in_different_folders_and_times_gives_identical_bytes()
    {
        var first = MakePublishFolder("one");
        var second = MakePublishFolder("two");
        File.SetLastWriteTimeUtc(Path.Combine(second, "app.dll"), new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc));

        Assert.Equal(Tar(first), Tar(second));
    }

    [Fact]
    public void Pax_header_names_carry_no_process_id()
    {
        var tar = Tar(MakePublishFolder("p"));
        var text = System.Text.Encoding.ASCII.GetString(tar);

        Assert.Contains("PaxHeaders.0/", text);
        Assert.DoesNotContain($"PaxHeaders.{Environment.ProcessId}", text);
        // the normalised headers still parse, checksums included
        Assert.Equal(7, Entries(tar).Count);
    }

    [Fact]
    public void Source_date_epoch_sets_every_timestamp()
    {
        var policy = LayerEntryPolicy.FromEnvironment("1700000000");
        var entries = Entries(Tar(MakePublishFolder("p"), policy: policy));

        Assert.All(entries, e => Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), e.ModificationTime));
    }

    [Fact]
    public void Source_date_epoch_that_is_not_a_number_is_a_coded_error()
    {
        var error = Assert.Throws<ZstdContainersException>(() => LayerEntryPolicy.FromEnvironment("yesterday"));

        Assert.Equal("ZSTDC1011", error.Code);
        Assert.Contains("SOURCE_DATE_EPOCH", error.Message);
    }

    [Fact]
    public void Missing_publish_folder_is_a_coded_error()
    {
        var error = Assert.Throws<ZstdContainersException>(() => Tar(Path.Combine(_root, "nope")));

        Assert.Equal("ZSTDC1005", error.Code);
    }
}
