#!/usr/bin/env python3
"""Which assemblies of a ZstdContainers package carry ReadyToRun code (stdlib only).

    r2r.py PACKAGE.nupkg     prints {"tasks/net10.0/ZstdSharp.dll": true, ...} for every tasks/ DLL

An assembly is ReadyToRun when its CLI header names a ManagedNativeHeader (the READYTORUN_HEADER);
an IL-only assembly leaves that directory empty. The benchmark records this next to the JIT figures,
so a pack switch that silently did nothing shows.
"""
import json
import struct
import sys
import zipfile


def is_ready_to_run(pe):
    pe_at = struct.unpack_from("<I", pe, 0x3C)[0]
    if pe[pe_at:pe_at + 4] != b"PE\0\0":
        raise ValueError("not a PE file")
    coff = pe_at + 4
    sections, opt_size = struct.unpack_from("<H", pe, coff + 2)[0], struct.unpack_from("<H", pe, coff + 16)[0]
    opt = coff + 20
    magic = struct.unpack_from("<H", pe, opt)[0]
    dirs = opt + (96 if magic == 0x10B else 112)
    cli_rva, cli_size = struct.unpack_from("<II", pe, dirs + 14 * 8)
    if not cli_size:
        return False  # not a .NET assembly

    def offset(rva):
        table = opt + opt_size
        for i in range(sections):
            vsize, vaddr, _, raw = struct.unpack_from("<IIII", pe, table + i * 40 + 8)
            if vaddr <= rva < vaddr + max(vsize, 1):
                return rva - vaddr + raw
        raise ValueError(f"RVA {rva:#x} is in no section")

    native_rva, native_size = struct.unpack_from("<II", pe, offset(cli_rva) + 64)
    return native_rva != 0 and native_size != 0


def main(path):
    with zipfile.ZipFile(path) as z:
        print(json.dumps({n: is_ready_to_run(z.read(n)) for n in sorted(z.namelist())
                          if n.startswith("tasks/") and n.endswith(".dll")}, separators=(",", ":")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
