using System.Security.Cryptography;
using System.Text;
using ZstdContainers.Layers;

namespace ZstdContainers.Tests.Layers;

/// <summary>
/// Small files' content hashes kept under their stamp (size, last-write time, mode), git-index
/// style: read again only when the stamp moved, and never kept for a file written moments before
/// the walk (its stamp may not move on a second write within the same clock tick).
/// </summary>
public sealed class SmallFileHashesTests : IDisposable
{
    private static readonly DateTime Yesterday = DateTime.UtcNow.AddDays(-1);
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-small-hashes-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string content, DateTime written)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, content);
        File.SetLastWriteTimeUtc(path, written);
        return path;
    }

    private static string Sha(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    private static FileInfo Info(string path) => new(path);

    [Fact]
    public void A_file_whose_stamp_is_as_recorded_is_not_read_again()
    {
        var path = Write("web.config", "<configuration />", Yesterday);
        var first = new SmallFileHashes();
        Assert.Equal(Sha("<configuration />"), first.HashOf("web.config", Info(path), DateTime.UtcNow));
        Assert.Equal(1, first.FilesRead);
        Assert.True(first.Changed);

        // Same size and stamp, other bytes: by design the recorded hash is trusted (the contract of
        // MSBuild's incremental build), which proves the file was not read.
        File.WriteAllText(path, "<configuratioN />");
        File.SetLastWriteTimeUtc(path, Yesterday);
        var second = new SmallFileHashes(first.Kept);
        Assert.Equal(Sha("<configuration />"), second.HashOf("web.config", Info(path), DateTime.UtcNow));
        Assert.Equal(0, second.FilesRead);
        Assert.False(second.Changed);
    }

    [Fact]
    public void A_moved_stamp_reads_the_file_and_keeps_the_new_stamp()
    {
        var path = Write("web.config", "<configuration />", Yesterday);
        var first = new SmallFileHashes();
        first.HashOf("web.config", Info(path), DateTime.UtcNow);

        // The SDK rewrites web.config with the same bytes: one read, same hash, new stamp kept.
        File.SetLastWriteTimeUtc(path, Yesterday.AddMinutes(1));
        var second = new SmallFileHashes(first.Kept);
        Assert.Equal(Sha("<configuration />"), second.HashOf("web.config", Info(path), DateTime.UtcNow));
        Assert.Equal(1, second.FilesRead);
        Assert.True(second.Changed);
        var third = new SmallFileHashes(second.Kept);
        third.HashOf("web.config", Info(path), DateTime.UtcNow);
        Assert.Equal(0, third.FilesRead);

        // Another edit of the same size that moves the stamp is seen.
        File.WriteAllText(path, "<configuratioN />");
        File.SetLastWriteTimeUtc(path, Yesterday.AddMinutes(2));
        Assert.Equal(Sha("<configuratioN />"), new SmallFileHashes(third.Kept).HashOf("web.config", Info(path), DateTime.UtcNow));
    }

    [Fact]
    public void A_mode_change_alone_reads_the_file_again()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var path = Write("run.sh", "echo hi", Yesterday);
        var first = new SmallFileHashes();
        first.HashOf("run.sh", Info(path), DateTime.UtcNow);
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute);
        File.SetLastWriteTimeUtc(path, Yesterday);

        var second = new SmallFileHashes(first.Kept);
        second.HashOf("run.sh", Info(path), DateTime.UtcNow);
        Assert.Equal(1, second.FilesRead);
    }

    [Fact]
    public void A_file_written_within_the_settle_time_of_the_walk_is_hashed_but_not_kept()
    {
        var walk = DateTime.UtcNow;
        var path = Write("appsettings.json", "{}", walk.AddMilliseconds(-500));
        var first = new SmallFileHashes();
        Assert.Equal(Sha("{}"), first.HashOf("appsettings.json", Info(path), walk));
        Assert.Empty(first.Kept);

        // Rewritten within the same tick, same size, same stamp: read again, so the edit is seen.
        File.WriteAllText(path, "[]");
        File.SetLastWriteTimeUtc(path, walk.AddMilliseconds(-500));
        var second = new SmallFileHashes(first.Kept);
        Assert.Equal(Sha("[]"), second.HashOf("appsettings.json", Info(path), walk.AddMilliseconds(100)));
        Assert.Equal(1, second.FilesRead);
    }

    [Fact]
    public void Files_no_longer_in_the_folder_are_dropped()
    {
        var a = Write("a.json", "{}", Yesterday);
        var b = Write("b.json", "[]", Yesterday);
        var first = new SmallFileHashes();
        first.HashOf("a.json", Info(a), DateTime.UtcNow);
        first.HashOf("b.json", Info(b), DateTime.UtcNow);

        var second = new SmallFileHashes(first.Kept);
        second.HashOf("a.json", Info(a), DateTime.UtcNow);

        Assert.Equal(["a.json"], second.Kept.Keys);
        Assert.True(second.Changed);
    }
}
