package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// One pass over one blob, for decode-cpu.sh: "zstd" decode (klauspost, containerd 1.6's defaults),
// "gzip" decode (Go's compress/gzip, containerd's in-process path), "sha" sha256 of the file as it is.
func main() {
	f, _ := os.Open(os.Args[2])
	src := bufio.NewReaderSize(f, 1<<15)
	var r io.Reader
	switch os.Args[1] {
	case "zstd":
		d, err := zstd.NewReader(src)
		if err != nil {
			panic(err)
		}
		r = d
	case "gzip":
		g, err := gzip.NewReader(src)
		if err != nil {
			panic(err)
		}
		r = g
	default:
		h := sha256.New()
		io.Copy(h, src)
		return
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		panic(err)
	}
}
