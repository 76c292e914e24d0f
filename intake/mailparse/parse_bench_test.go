package mailparse

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse parses every mail of the shared corpus (bounces, RFC
// examples, malformed MIME, charsets, a 1 MB TNEF mail) and the package's
// fixtures once per iteration; MB/s is over their total size.
func BenchmarkParse(b *testing.B) {
	files := corpusMails(b, corpusDir(b))
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	var mails [][]byte
	var total int64
	for _, f := range append(files, fixtures...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		mails = append(mails, raw)
		total += int64(len(raw))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, raw := range mails {
			_, _ = Parse(raw)
		}
	}
}
