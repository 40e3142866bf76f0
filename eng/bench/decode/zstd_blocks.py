#!/usr/bin/env python3
"""zstd_blocks.py FILE...: frames and blocks of zstd files (raw, RLE, compressed) and the mean
compressed block size; shows whether the encoder cut blocks short of 128 KiB (ZstdBlobWriter.BlockSplitterLevel)."""
import sys, collections

for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    pos = 0; frames = 0; kinds = collections.Counter(); csizes = []
    while pos < len(data):
        magic = int.from_bytes(data[pos:pos+4], 'little'); pos += 4
        assert magic == 0xFD2FB528, hex(magic)
        frames += 1
        fhd = data[pos]; pos += 1
        fcs_flag = fhd >> 6; single = (fhd >> 5) & 1; checksum = (fhd >> 2) & 1; dict_flag = fhd & 3
        if not single: pos += 1
        pos += [0, 1, 2, 4][dict_flag]
        pos += [1 if single else 0, 2, 4, 8][fcs_flag]
        while True:
            h = int.from_bytes(data[pos:pos+3], 'little'); pos += 3
            last = h & 1; btype = (h >> 1) & 3; bsize = h >> 3
            kinds[btype] += 1
            if btype == 2: csizes.append(bsize)
            pos += 1 if btype == 1 else bsize
            if last: break
        if checksum: pos += 4
    print(f"{path}: frames {frames} blocks raw {kinds[0]} rle {kinds[1]} compressed {kinds[2]}, mean compressed block {sum(csizes)/max(1,len(csizes)):.0f} B")
