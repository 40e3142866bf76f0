using System.Runtime.InteropServices;

namespace ZstdContainers.Layers;

/// <summary>What a path is on Unix, without following a link.</summary>
public enum UnixFileKind
{
    Unknown,
    RegularFile,
    Directory,
    SymbolicLink,
    Fifo,
    Socket,
    CharacterDevice,
    BlockDevice,
}

/// <summary>
/// The file type and owner of a path on Unix. .NET has no public API for either (FileSystemInfo
/// tells a FIFO from a file by nothing, and opening a FIFO blocks until a writer comes), so this
/// asks the runtime's own native shim, libSystem.Native, which every .NET on Unix ships and whose
/// FileStatus record begins with the type-and-mode word and the owner's uid.
/// </summary>
internal static class UnixFileStatus
{
    private const string NativeShim = "libSystem.Native";
    private const int TypeMask = 0xF000;

    /// <summary>The kind and owner uid of <paramref name="path"/> (a link itself, not its target), or null
    /// when it does not exist, on Windows, or when the shim is not there.</summary>
    public static (UnixFileKind Kind, uint OwnerId)? Of(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }
        try
        {
            if (LStat(path, out var status) != 0)
            {
                return null;
            }
            var kind = (status.Mode & TypeMask) switch
            {
                0x1000 => UnixFileKind.Fifo,
                0x2000 => UnixFileKind.CharacterDevice,
                0x4000 => UnixFileKind.Directory,
                0x6000 => UnixFileKind.BlockDevice,
                0x8000 => UnixFileKind.RegularFile,
                0xA000 => UnixFileKind.SymbolicLink,
                0xC000 => UnixFileKind.Socket,
                _ => UnixFileKind.Unknown,
            };
            return (kind, status.Uid);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The effective uid of this process, or null on Windows or without the shim.</summary>
    public static uint? EffectiveUserId()
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }
        try
        {
            return GetEUid();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    // The leading fields of the shim's FileStatus; the size leaves room for the rest of it.
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct FileStatusHead
    {
        public int Flags;
        public int Mode;
        public uint Uid;
        public uint Gid;
    }

    [DllImport(NativeShim, EntryPoint = "SystemNative_LStat")]
    private static extern int LStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, out FileStatusHead status);

    [DllImport(NativeShim, EntryPoint = "SystemNative_GetEUid")]
    private static extern uint GetEUid();
}
