using System.IO.Compression;
using System.Reflection.PortableExecutable;

namespace ZstdContainers.IntegrationTests;

/// <summary>
/// What `dotnet pack` puts in the package users reference: the task assemblies and nothing that
/// flows into their app, precompiled so a fresh MSBuild process on a CI runner does not JIT them.
/// </summary>
[Collection(RigCollection.Name)]
public sealed class PackageContentTests(PackageFixture package)
{
    private static readonly string[] TaskAssemblies = ["ZstdContainers.Core.dll", "ZstdContainers.Tasks.dll", "ZstdSharp.dll"];

    [Fact]
    public void The_package_holds_the_task_assemblies_and_no_app_assets()
    {
        using var zip = ZipFile.OpenRead(PackagePath());
        var names = zip.Entries.Select(e => e.FullName).ToList();

        Assert.Equal(TaskAssemblies, names.Where(n => n.EndsWith(".dll", StringComparison.Ordinal)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(names.Where(n => n.EndsWith(".dll", StringComparison.Ordinal)), n => Assert.StartsWith("tasks/net10.0/", n));
        Assert.DoesNotContain(names, n => n.StartsWith("lib/", StringComparison.Ordinal) || n.StartsWith("ref/", StringComparison.Ordinal));
        Assert.Contains("build/ZstdContainers.targets", names);
        Assert.Contains("buildTransitive/ZstdContainers.targets", names);
    }

    [Theory]
    [InlineData("ZstdContainers.Core.dll")]
    [InlineData("ZstdContainers.Tasks.dll")]
    [InlineData("ZstdSharp.dll")]
    public void Every_task_assembly_is_ReadyToRun_for_linux_x64(string assembly)
    {
        using var zip = ZipFile.OpenRead(PackagePath());
        var entry = zip.GetEntry("tasks/net10.0/" + assembly) ?? throw new InvalidOperationException(assembly + " is not in the package");
        using var copy = new MemoryStream();
        using (var input = entry.Open())
        {
            input.CopyTo(copy);
        }
        copy.Position = 0;
        using var pe = new PEReader(copy);

        // A ReadyToRun image has a managed native header (the READYTORUN_HEADER) and, unlike IL-only
        // assemblies, is marked for its target machine; the linux-x64 image sets the Linux machine
        // bits on top of AMD64.
        Assert.NotNull(pe.PEHeaders.CorHeader);
        Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, assembly + " has no ReadyToRun header: it was packed as plain IL");
        const ushort LinuxMachineXor = 0x7B79;
        Assert.Equal((ushort)Machine.Amd64 ^ LinuxMachineXor, (ushort)pe.PEHeaders.CoffHeader.Machine);
    }

    private string PackagePath() =>
        Directory.GetFiles(package.Feed, "ZstdContainers." + package.Version + ".nupkg").Single();
}
