package kafka

import (
	"sync"

	"github.com/metaflow-go/metaflow/l7"
)

// requestBody reads the topic (and, for Produce, trace headers) of a
// request body into m. It reports whether the request gets no response
// (Produce with acks 0). A body cut short yields what was read before the
// cut.
func (p *Parser) requestBody(r *reader, key, ver int16, m *l7.Message) (noResponse bool) {
	switch key {
	case keyProduce:
		if ver >= 3 {
			r.str() // transactional id
		}
		acks := r.int16()
		r.int32() // timeout
		noResponse = !r.bad && acks == 0
		if r.array() > 0 {
			p.setTopic(r, ver >= 13, m)
			if r.array() > 0 {
				r.int32() // partition
				if recs, _ := r.bytes(); len(recs) > 0 {
					p.traces(recs, m)
				}
			}
		}
	case keyFetch:
		if ver <= 14 {
			r.int32() // replica id
		}
		r.int32() // max wait
		r.int32() // min bytes
		if ver >= 3 {
			r.int32() // max bytes
		}
		if ver >= 4 {
			r.int8() // isolation level
		}
		if ver >= 7 {
			r.int32() // session id
			r.int32() // session epoch
		}
		if r.array() > 0 {
			p.setTopic(r, ver >= 13, m)
		}
	case keyListOffsets:
		r.int32() // replica id
		if ver >= 2 {
			r.int8() // isolation level
		}
		if r.array() > 0 {
			p.setTopic(r, false, m)
		}
	case keyMetadata:
		if r.array() > 0 {
			var id []byte
			if ver >= 10 {
				id = r.uuid()
			}
			name := r.str()
			switch {
			case r.bad:
			case name != nil:
				m.RequestResource, m.Endpoint = name, name
			case id != nil && !zeroID(id):
				p.setTopicID(id, m)
			}
		}
	case keyOffsetCommit:
		r.str() // group
		if ver >= 1 {
			r.int32() // generation
			r.str()   // member id
		}
		if ver >= 7 {
			r.str() // group instance id
		}
		if ver >= 2 && ver <= 4 {
			r.int64() // retention
		}
		if r.array() > 0 {
			p.setTopic(r, ver >= 10, m)
		}
	case keyOffsetFetch:
		if ver <= 7 {
			r.str() // group
			if r.array() > 0 {
				p.setTopic(r, false, m)
			}
			break
		}
		if r.array() > 0 {
			r.str() // group
			if ver >= 9 {
				r.str()   // member id
				r.int32() // member epoch
			}
			if r.array() > 0 {
				p.setTopic(r, ver >= 10, m)
			}
		}
	}
	return noResponse
}

// setTopic reads a topic name, or a topic id when byID, into m's resource
// and endpoint.
func (p *Parser) setTopic(r *reader, byID bool, m *l7.Message) {
	if byID {
		if id := r.uuid(); id != nil {
			p.setTopicID(id, m)
		}
		return
	}
	if name := r.str(); !r.bad && len(name) > 0 {
		m.RequestResource, m.Endpoint = name, name
	}
}

// setTopicID names the topic of id: its name when a Metadata response of
// this decoder mapped it, else the id as Kafka prints it.
func (p *Parser) setTopicID(id []byte, m *l7.Message) {
	sc := p.scratch()
	t := p.d.ids.get(id, sc.topic[:0])
	if t == nil {
		p.d.st.misses.Add(1)
		t = idText(id, &sc.idText)
	}
	m.RequestResource, m.Endpoint = t, t
}

func zeroID(id []byte) bool {
	for _, c := range id {
		if c != 0 {
			return false
		}
	}
	return true
}

// errs keeps the first non-zero error code of a response, or 0 once any
// error code was read.
type errs struct {
	code int16
	has  bool
}

func (e *errs) add(r *reader, c int16) {
	if r.bad {
		return
	}
	e.has = true
	if e.code == 0 {
		e.code = c
	}
}

// found reports whether the walk can stop: an error was found, or the
// body ended.
func (e *errs) found(r *reader) bool { return r.bad || e.code != 0 }

// responseBody reads the error code of a response body: the first
// non-zero error code field in wire order, or 0. For Metadata it also
// fills the topic id map.
func (p *Parser) responseBody(r *reader, key, ver int16, e *errs) {
	switch key {
	case keyProduce:
		for nt := r.array(); nt > 0 && !e.found(r); nt-- {
			if ver >= 13 {
				r.uuid()
			} else {
				r.str()
			}
			for np := r.array(); np > 0 && !e.found(r); np-- {
				r.int32() // partition
				e.add(r, r.int16())
				r.int64() // base offset
				if ver >= 2 {
					r.int64() // log append time
				}
				if ver >= 5 {
					r.int64() // log start offset
				}
				if ver >= 8 {
					for n := r.array(); n > 0 && !r.bad; n-- {
						r.int32()
						r.str()
						r.tags()
					}
					r.str() // error message
				}
				r.tags()
			}
			r.tags()
		}
	case keyFetch:
		if ver >= 1 {
			r.int32() // throttle
		}
		if ver >= 7 {
			e.add(r, r.int16())
			r.int32() // session id
		}
		for nt := r.array(); nt > 0 && !e.found(r); nt-- {
			if ver >= 13 {
				r.uuid()
			} else {
				r.str()
			}
			for np := r.array(); np > 0 && !e.found(r); np-- {
				r.int32() // partition
				e.add(r, r.int16())
				r.int64() // high watermark
				if ver >= 4 {
					r.int64() // last stable offset
				}
				if ver >= 5 {
					r.int64() // log start offset
				}
				if ver >= 4 {
					for n := r.array(); n > 0 && !r.bad; n-- {
						r.int64()
						r.int64()
						r.tags()
					}
				}
				if ver >= 11 {
					r.int32() // preferred read replica
				}
				r.bytes()
				r.tags()
			}
			r.tags()
		}
	case keyListOffsets:
		if ver >= 2 {
			r.int32() // throttle
		}
		for nt := r.array(); nt > 0 && !e.found(r); nt-- {
			r.str()
			for np := r.array(); np > 0 && !e.found(r); np-- {
				r.int32() // partition
				e.add(r, r.int16())
				if ver == 0 {
					r.skip(8 * r.array())
				} else {
					r.int64() // timestamp
					r.int64() // offset
				}
				if ver >= 4 {
					r.int32() // leader epoch
				}
				r.tags()
			}
			r.tags()
		}
	case keyMetadata:
		p.metadata(r, ver, e)
	case keyOffsetCommit:
		if ver >= 3 {
			r.int32() // throttle
		}
		for nt := r.array(); nt > 0 && !e.found(r); nt-- {
			if ver >= 10 {
				r.uuid()
			} else {
				r.str()
			}
			for np := r.array(); np > 0 && !e.found(r); np-- {
				r.int32()
				e.add(r, r.int16())
				r.tags()
			}
			r.tags()
		}
	case keyOffsetFetch:
		if ver >= 3 {
			r.int32() // throttle
		}
		if ver <= 7 {
			offsetFetchTopics(r, ver, false, e)
			if ver >= 2 {
				e.add(r, r.int16())
			}
			return
		}
		for ng := r.array(); ng > 0 && !e.found(r); ng-- {
			r.str() // group
			offsetFetchTopics(r, ver, ver >= 10, e)
			e.add(r, r.int16())
			r.tags()
		}
	case keyApiVersions, keySaslHandshake, keySaslAuth:
		e.add(r, r.int16())
	case keyFindCoordinator:
		if ver >= 1 {
			r.int32()
		}
		if ver <= 3 {
			e.add(r, r.int16())
			return
		}
		if r.array() > 0 {
			r.str()   // key
			r.int32() // node id
			r.str()   // host
			r.int32() // port
			e.add(r, r.int16())
		}
	case keyJoinGroup:
		if ver >= 2 {
			r.int32()
		}
		e.add(r, r.int16())
	case keyHeartbeat, keyLeaveGroup, keySyncGroup, keyListGroups:
		if ver >= 1 {
			r.int32()
		}
		e.add(r, r.int16())
	case keyDescribeGroups:
		if ver >= 1 {
			r.int32()
		}
		if r.array() > 0 {
			e.add(r, r.int16())
		}
	case keyDeleteGroups:
		r.int32()
		if r.array() > 0 {
			r.str()
			e.add(r, r.int16())
		}
	case keyInitProducerID, keyAddOffsetsToTxn, keyEndTxn, keyDescribeCluster,
		keyConsumerGroupHB, keyGetTelemetry, keyPushTelemetry:
		r.int32() // throttle
		e.add(r, r.int16())
	}
}

func offsetFetchTopics(r *reader, ver int16, byID bool, e *errs) {
	for nt := r.array(); nt > 0 && !e.found(r); nt-- {
		if byID {
			r.uuid()
		} else {
			r.str()
		}
		for np := r.array(); np > 0 && !e.found(r); np-- {
			r.int32() // partition
			r.int64() // offset
			if ver >= 5 {
				r.int32() // leader epoch
			}
			r.str() // metadata
			e.add(r, r.int16())
			r.tags()
		}
		r.tags()
	}
}

// metadata walks a Metadata response: every topic (within the bytes
// looked at) for the topic id map, and the error codes.
func (p *Parser) metadata(r *reader, ver int16, e *errs) {
	if ver >= 3 {
		r.int32() // throttle
	}
	for nb := r.array(); nb > 0 && !r.bad; nb-- {
		r.int32() // node id
		r.str()   // host
		r.int32() // port
		if ver >= 1 {
			r.str() // rack
		}
		r.tags()
	}
	if ver >= 2 {
		r.str() // cluster id
	}
	if ver >= 1 {
		r.int32() // controller id
	}
	nt := r.count()
	for i := 0; i < nt && !r.bad; i++ {
		start := r.off
		p.metadataTopic(r, ver, e)
		if r.bad && p.cut && ver >= 10 {
			// The rest of the topics arrive while the message's rest
			// is skipped: map their ids then (metaMore).
			p.metaStart(r.b[start:], nt-i, ver, r.flex)
			return
		}
	}
	if ver >= 8 && ver <= 10 {
		r.int32()
	}
	if ver >= 13 {
		e.add(r, r.int16())
	}
}

// metadataTopic reads one topic entry of a Metadata response, mapping its
// id to its name (v10+).
func (p *Parser) metadataTopic(r *reader, ver int16, e *errs) {
	e.add(r, r.int16())
	name := r.str()
	var id []byte
	if ver >= 10 {
		id = r.uuid()
	}
	if ver >= 1 {
		r.int8() // is internal
	}
	for np := r.array(); np > 0 && !r.bad; np-- {
		e.add(r, r.int16())
		r.int32() // partition
		r.int32() // leader
		if ver >= 7 {
			r.int32() // leader epoch
		}
		r.skip(4 * r.array()) // replicas
		r.skip(4 * r.array()) // isr
		if ver >= 5 {
			r.skip(4 * r.array()) // offline replicas
		}
		r.tags()
	}
	if ver >= 8 {
		r.int32() // authorized operations
	}
	r.tags()
	// Map only a whole entry: a name or id cut short is not one.
	if !r.bad && id != nil && name != nil && p.d.ids.put(id, name) > 0 {
		p.d.st.evicted.Add(1)
	}
}

// metaCarry bounds the bytes of one topic entry of a Metadata response
// longer than MaxPeek that the parser holds while the rest arrives.
const metaCarry = 16 << 10

// metaStart begins mapping the topics of a Metadata response beyond
// MaxPeek: rest is the start of the first topic entry not read, left the
// entries still to come.
func (p *Parser) metaStart(rest []byte, left int, ver int16, flex bool) {
	mm := p.meta
	if mm == nil {
		mm = carryPool.Get().(*metaMap)
		p.meta = mm
	}
	mm.left, mm.ver, mm.flex = left, ver, flex
	mm.carry = mm.buf[:0]
	p.metaMore(rest)
}

// mapping reports whether the parser maps the topics of a Metadata
// response.
func (p *Parser) mapping() bool { return p.meta != nil && p.meta.left > 0 }

// metaMore takes more bytes of the Metadata response being mapped.
func (p *Parser) metaMore(b []byte) {
	for len(b) > 0 && p.mapping() {
		mm := p.meta
		room := cap(mm.carry) - len(mm.carry)
		if room == 0 {
			p.metaStop() // an entry larger than the buffer
			return
		}
		n := min(room, len(b))
		mm.carry = append(mm.carry, b[:n]...)
		b = b[n:]
		r := reader{b: mm.carry, flex: mm.flex}
		var e errs
		for mm.left > 0 {
			start := r.off
			p.metadataTopic(&r, mm.ver, &e)
			if r.bad {
				r.off = start
				break
			}
			mm.left--
		}
		mm.carry = mm.carry[:copy(mm.carry, mm.carry[r.off:])]
	}
}

// metaStop ends the mapping and gives its state, with the carry buffer,
// back.
func (p *Parser) metaStop() {
	if p.meta != nil {
		carryPool.Put(p.meta)
		p.meta = nil
	}
}

// carryPool holds the mapping state, carry buffer included, of parsers
// not mapping a Metadata response.
var carryPool = sync.Pool{New: func() any { return new(metaMap) }}
