package http2

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// checkHuffman compares huffmanDecode with x/net's decoder on in: the
// same bytes, or an error from both; dst's bytes are kept either way.
func checkHuffman(t *testing.T, in []byte) {
	t.Helper()
	var want bytes.Buffer
	_, err := hpack.HuffmanDecode(&want, in)
	prefix := []byte("kept")
	got, ok := huffmanDecode(append([]byte(nil), prefix...), in)
	switch {
	case ok != (err == nil):
		t.Fatalf("%x: ok %v, x/net's error %v", in, ok, err)
	case !bytes.HasPrefix(got, prefix):
		t.Fatalf("%x: dst's bytes lost: %q", in, got)
	case ok && !bytes.Equal(got[len(prefix):], want.Bytes()):
		t.Fatalf("%x: %q, want %q", in, got[len(prefix):], want.Bytes())
	case !ok && len(got) != len(prefix):
		t.Fatalf("%x: a failed decoding left %q", in, got)
	}
	if n, lok := huffmanLen(in); lok != ok || ok && n != want.Len() {
		t.Fatalf("%x: huffmanLen %d %v, want %d %v", in, n, lok, want.Len(), ok)
	}
}

func TestHuffmanDecode(t *testing.T) {
	// Every symbol alone, after each other symbol, and in runs (each code
	// length at each bit offset).
	for a := range 256 {
		checkHuffman(t, hpack.AppendHuffmanString(nil, string([]byte{byte(a)})))
		for b := range 256 {
			checkHuffman(t, hpack.AppendHuffmanString(nil, string([]byte{byte(a), byte(b)})))
		}
		for n := 1; n <= 9; n++ {
			checkHuffman(t, hpack.AppendHuffmanString(nil, string(bytes.Repeat([]byte{byte(a)}, n))))
		}
	}
	for _, s := range []string{
		"", "www.example.com", "no-cache", "custom-value", "Mon, 21 Oct 2013 20:13:21 GMT",
		"application/grpc", "/pkg.Service/Method", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
	} {
		checkHuffman(t, hpack.AppendHuffmanString(nil, s))
	}
	// Random strings of random bytes, and random bits.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(4) != 0 {
				b[i] = byte(' ' + r.IntN(95))
			}
		}
		enc := hpack.AppendHuffmanString(nil, string(b))
		checkHuffman(t, enc)
		if len(enc) > 0 {
			checkHuffman(t, enc[:len(enc)-1]) // cut
			enc[r.IntN(len(enc))] ^= 1 << r.IntN(8)
			checkHuffman(t, enc) // a bit flipped
		}
		checkHuffman(t, b)
	}
	for _, in := range [][]byte{
		{0xff},                         // 8 bits of padding
		{0xff, 0xff, 0xff, 0xfc},       // EOS (30 ones)
		{0xff, 0xff, 0xff, 0xff},       // EOS and more ones
		{0x1f},                         // 'a' (00011) then 111: valid
		{0x18},                         // 'a' then 000: padding of zeros
		{0xfe},                         // a cut code
		{0xff, 0xff, 0xff, 0xfc, 0x1f}, // EOS inside
		{0xff, 0xf9, 0xff},             // '\\' (19 bits) then padding
	} {
		checkHuffman(t, in)
	}
}

func TestHuffmanDecode_ZeroAlloc(t *testing.T) {
	in := hpack.AppendHuffmanString(nil, "Mon, 21 Oct 2013 20:13:21 GMT")
	dst := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(100, func() { huffmanDecode(dst, in) }); a != 0 {
		t.Errorf("huffmanDecode allocates %v times, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { huffmanLen(in) }); a != 0 {
		t.Errorf("huffmanLen allocates %v times, want 0", a)
	}
}

// FuzzHuffmanDecode checks that huffmanDecode accepts and decodes what
// x/net's HuffmanDecode does, and rejects the rest; huffmanLen gives the
// decoded length.
func FuzzHuffmanDecode(f *testing.F) {
	for _, s := range []string{"", "www.example.com", "\x00\xff\\<{", "Mon, 21 Oct 2013 20:13:21 GMT"} {
		f.Add(hpack.AppendHuffmanString(nil, s))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xfc})
	f.Fuzz(func(t *testing.T, in []byte) {
		checkHuffman(t, in)
	})
}

// BenchmarkHuffmanDecode decodes a long value (a DNS query in a path), and
// header values of the lengths a request and a response carry, one after
// the other (the bytes are those of all of them).
func BenchmarkHuffmanDecode(b *testing.B) {
	values := []string{"www.example.com", "/pkg.Service/Method", "application/grpc", "grpc-go/1.60.1",
		"Mon, 21 Oct 2013 20:13:21 GMT", "gzip, deflate, br", "max-age=31536000; includeSubDomains",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "text/html; charset=utf-8", "no-cache"}
	for _, tc := range []struct {
		name string
		in   []string
	}{
		{"long", []string{"/dns-query?dns=AAABAAABAAAAAAABA3d3dwdnc3RhdGljA2NvbQAAAQABAAApEAAAAAAAAFQADABQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		{"values", values},
	} {
		var in [][]byte
		n := 0
		for _, v := range tc.in {
			in = append(in, hpack.AppendHuffmanString(nil, v))
			n += len(in[len(in)-1])
		}
		b.Run(tc.name+"/own", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			dst := make([]byte, 0, 256)
			for b.Loop() {
				for _, s := range in {
					huffmanDecode(dst, s)
				}
			}
		})
		b.Run(tc.name+"/len", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				for _, s := range in {
					huffmanLen(s)
				}
			}
		})
		b.Run(tc.name+"/x-net", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			var sc bytes.Buffer
			for b.Loop() {
				for _, s := range in {
					sc.Reset()
					hpack.HuffmanDecode(&sc, s)
				}
			}
		})
	}
}
