package kafka

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// enc writes Kafka primitives for hand-built test messages, written from
// the protocol's message definitions independently of the decoder.
type enc struct {
	b    []byte
	flex bool
}

func (e *enc) i8(v int8)   { e.b = append(e.b, byte(v)) }
func (e *enc) i16(v int16) { e.b = binary.BigEndian.AppendUint16(e.b, uint16(v)) }
func (e *enc) i32(v int32) { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) i64(v int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) uv(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) vi(v int64)  { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) raw(b []byte) {
	e.b = append(e.b, b...)
}

// str writes a string (classic or compact); null when s is "\x00".
func (e *enc) str(s string) {
	null := s == "\x00"
	switch {
	case e.flex && null:
		e.uv(0)
	case e.flex:
		e.uv(uint64(len(s)) + 1)
	case null:
		e.i16(-1)
	default:
		e.i16(int16(len(s)))
	}
	if !null {
		e.b = append(e.b, s...)
	}
}

// bytes writes bytes (classic int32 length or compact).
func (e *enc) bytes(b []byte) {
	if e.flex {
		e.uv(uint64(len(b)) + 1)
	} else {
		e.i32(int32(len(b)))
	}
	e.b = append(e.b, b...)
}

func (e *enc) arr(n int) {
	if e.flex {
		e.uv(uint64(n) + 1)
	} else {
		e.i32(int32(n))
	}
}

// tags writes an empty tagged-field section in flexible versions.
func (e *enc) tags() {
	if e.flex {
		e.uv(0)
	}
}

// request frames a request: size, header (v1, or v2 when flex) and body.
func request(key, ver int16, corr int32, client string, flex bool, body func(e *enc)) []byte {
	h := &enc{}
	h.i16(key)
	h.i16(ver)
	h.i32(corr)
	h.str(client) // the client id is a classic string in every header version
	h.flex = flex
	h.tags()
	body(h)
	return frame(h.b)
}

// response frames a response: size, header (v0, or v1 with tagged fields
// when tagged) and body (flexible when flex).
func response(corr int32, tagged, flex bool, body func(e *enc)) []byte {
	h := &enc{}
	h.i32(corr)
	h.flex = tagged
	h.tags()
	h.flex = flex
	body(h)
	return frame(h.b)
}

func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

type header struct{ key, val string }

// snappyXerial asks batch for snappy in the Java client's xerial framing.
const snappyXerial = 102

// batch builds a record batch (magic 2) of records, each with a value of
// vlen bytes and the given headers, compressed with codec.
func batch(codec int, vlen int, recs ...[]header) []byte {
	r := &enc{}
	for i, hs := range recs {
		x := &enc{}
		x.i8(0)           // attributes
		x.vi(0)           // timestamp delta
		x.vi(int64(i))    // offset delta
		x.vi(-1)          // null key
		x.vi(int64(vlen)) // value
		x.raw(bytes.Repeat([]byte{'v'}, vlen))
		x.vi(int64(len(hs)))
		for _, h := range hs {
			x.vi(int64(len(h.key)))
			x.raw([]byte(h.key))
			x.vi(int64(len(h.val)))
			x.raw([]byte(h.val))
		}
		r.vi(int64(len(x.b)))
		r.raw(x.b)
	}
	data := r.b
	switch codec {
	case codecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
		data = buf.Bytes()
	case codecSnappy:
		data = s2.EncodeSnappy(nil, data)
	case snappyXerial:
		// The Java client's framing: magic, version 1, compatible 1, then
		// chunks of a 4-byte length and a raw block.
		block := s2.EncodeSnappy(nil, data)
		x := append([]byte(nil), xerialMagic...)
		x = binary.BigEndian.AppendUint32(x, 1)
		x = binary.BigEndian.AppendUint32(x, 1)
		x = binary.BigEndian.AppendUint32(x, uint32(len(block)))
		data = append(x, block...)
		codec = codecSnappy
	case codecZstd:
		w, _ := zstd.NewWriter(nil)
		data = w.EncodeAll(data, nil)
	case codecLz4:
		data = []byte("not really lz4")
	}
	b := &enc{}
	b.i64(0)                     // base offset
	b.i32(int32(49 + len(data))) // batch length: from the leader epoch on
	b.i32(0)                     // partition leader epoch
	b.i8(2)                      // magic
	b.i32(0)                     // crc (not checked)
	b.i16(int16(codec))          // attributes
	b.i32(int32(len(recs) - 1))  // last offset delta
	b.i64(0)
	b.i64(0)
	b.i64(-1)
	b.i16(-1)
	b.i32(-1)
	b.i32(int32(len(recs)))
	b.raw(data)
	return b.b
}

// produce builds a Produce request of version ver to topic with records.
func produce(ver int16, corr int32, acks int16, topic string, records []byte) []byte {
	flex := ver >= 9
	return request(0, ver, corr, "producer", flex, func(e *enc) {
		if ver >= 3 {
			e.str("\x00")
		}
		e.i16(acks)
		e.i32(1000)
		e.arr(1)
		e.str(topic)
		e.arr(1)
		e.i32(0)
		e.bytes(records)
		e.tags()
		e.tags()
		e.tags()
	})
}

// produceResp builds a Produce response of version ver with one
// partition's error code.
func produceResp(ver int16, corr int32, topic string, code int16) []byte {
	flex := ver >= 9
	return response(corr, flex, flex, func(e *enc) {
		e.arr(1)
		e.str(topic)
		e.arr(1)
		e.i32(0)
		e.i16(code)
		e.i64(42)
		if ver >= 2 {
			e.i64(-1)
		}
		if ver >= 5 {
			e.i64(0)
		}
		if ver >= 8 {
			e.arr(0)
			e.str("\x00")
		}
		e.tags()
		e.tags()
		e.i32(0) // throttle
		e.tags()
	})
}

// bigID is the topic id of topic i of bigMetadata.
func bigID(i int) []byte {
	b := bytes.Repeat([]byte{0xab}, 16)
	binary.BigEndian.PutUint32(b, uint32(i+1))
	return b
}

// bigMetadata builds a Metadata v12 response of n topics with ids, each
// with one partition: about 60 bytes a topic.
func bigMetadata(corr int32, n int) []byte {
	return response(corr, true, true, func(e *enc) {
		e.i32(0)   // throttle
		e.arr(0)   // brokers
		e.str("c") // cluster id
		e.i32(0)   // controller
		e.arr(n)
		for i := range n {
			e.i16(0)
			e.str(fmt.Sprintf("topic-with-a-longish-name-%04d", i))
			e.raw(bigID(i))
			e.i8(0)
			e.arr(1) // one partition
			e.i16(0)
			e.i32(0)
			e.i32(1)
			e.i32(0)
			e.arr(1)
			e.i32(1)
			e.arr(1)
			e.i32(1)
			e.arr(0)
			e.tags()
			e.i32(0)
			e.tags()
		}
		e.tags()
	})
}
