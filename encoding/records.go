package encoding

import (
	"net/netip"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// index finds the known columns of the table's type.
func (t *Table) index() {
	var spec []colSpec
	switch t.Type {
	case TableL4:
		spec = l4Columns
	case TableL7:
		spec = l7Columns
	}
	t.fixed = grow(t.fixed, len(spec))
	for i, s := range spec {
		t.fixed[i] = -1
		for j := range t.Columns {
			if c := &t.Columns[j]; c.Name == s.name && c.Type == s.typ {
				t.fixed[i] = j
				break
			}
		}
	}
}

// Column returns the column named name, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

func (t *Table) col(i int) *Column {
	if i >= len(t.fixed) || t.fixed[i] < 0 {
		return nil
	}
	return &t.Columns[t.fixed[i]]
}

func (t *Table) u(i, row int) uint64 {
	if c := t.col(i); c != nil {
		return c.Vals[row]
	}
	return 0
}

func (t *Table) opt(i, row int) (uint32, bool) {
	if v := t.u(i, row); v != 0 {
		return uint32(v - 1), true
	}
	return 0, false
}

func (t *Table) addr(i, row int) netip.Addr {
	if c := t.col(i); c != nil {
		return c.Addrs[row]
	}
	return netip.Addr{}
}

func (t *Table) str(i, row int) string {
	if c := t.col(i); c != nil {
		return t.batch.Strings[c.Strs[row]]
	}
	return ""
}

func (t *Table) bytes(i, row int) []byte {
	if s := t.str(i, row); s != "" {
		return []byte(s)
	}
	return nil
}

// TagValue returns the value of tag column c at row: an inline string, or
// the dictionary id resolved through names. ok is false when the row has
// no such tag; ErrUnknownID when names does not know the id.
func (t *Table) TagValue(c *Column, row int, names Names) (v string, ok bool, err error) {
	if len(c.Inline) > row && c.Inline[row] != 0 {
		return t.batch.Strings[c.Inline[row]-1], true, nil
	}
	id := c.IDs[row]
	if id == 0 {
		return "", false, nil
	}
	if names != nil {
		if v, ok := names.Value(c.Key, id); ok {
			return v, true, nil
		}
	}
	return "", false, ErrUnknownID
}

// L4 fills r with row of an l4_flow_log table, resolving tag ids through
// names (nil when the batch was sent without ids or is resolved inline).
// Tags come in column order. Errors: ErrCorrupt for a table of another
// type or a row out of range, ErrUnknownID.
func (t *Table) L4(row int, names Names, r *flow.Record) error {
	if t.Type != TableL4 || row < 0 || row >= t.Rows {
		return ErrCorrupt
	}
	tags := r.Tags
	tags.Reset()
	*r = flow.Record{Tags: tags}
	r.FlowID = t.u(l4FlowID, row)
	r.StartTime = int64(t.u(l4StartTime, row))
	r.EndTime = int64(t.u(l4EndTime, row))
	r.Duration = int64(t.u(l4Duration, row))
	r.IP0 = t.addr(l4IP0, row)
	r.IP1 = t.addr(l4IP1, row)
	r.ClientPort = uint16(t.u(l4ClientPort, row))
	r.ServerPort = uint16(t.u(l4ServerPort, row))
	r.Protocol = uint8(t.u(l4Protocol, row))
	r.VLAN = uint16(t.u(l4VLAN, row))
	r.TunnelType = decode.TunnelType(t.u(l4TunnelType, row))
	r.L7Protocol = t.str(l4L7Protocol, row)
	r.CloseType = flow.CloseType(t.u(l4CloseType, row))
	r.Snapshot = t.u(l4Snapshot, row) != 0
	r.PacketTx, r.PacketRx = t.u(l4PacketTx, row), t.u(l4PacketRx, row)
	r.ByteTx, r.ByteRx = t.u(l4ByteTx, row), t.u(l4ByteRx, row)
	r.L4ByteTx, r.L4ByteRx = t.u(l4L4ByteTx, row), t.u(l4L4ByteRx, row)
	r.RTT, r.HasRTT = t.opt(l4RTT, row)
	r.RTTClient, r.HasRTTClient = t.opt(l4RTTClient, row)
	r.RTTServer, r.HasRTTServer = t.opt(l4RTTServer, row)
	u32 := func(i int) uint32 { return uint32(t.u(i, row)) }
	r.SRTMax, r.SRTSum, r.SRTCount = u32(l4SRTMax), u32(l4SRTSum), u32(l4SRTCount)
	r.ARTMax, r.ARTSum, r.ARTCount = u32(l4ARTMax), u32(l4ARTSum), u32(l4ARTCount)
	r.RetransTx, r.RetransRx = u32(l4RetransTx), u32(l4RetransRx)
	r.ZeroWinTx, r.ZeroWinRx = u32(l4ZeroWinTx), u32(l4ZeroWinRx)
	r.OOOTx, r.OOORx = u32(l4OOOTx), u32(l4OOORx)
	r.SynCount, r.SynAckCount = u32(l4SynCount), u32(l4SynAckCount)
	r.RetransSyn, r.RetransSynAck = u32(l4RetransSyn), u32(l4RetransSynAck)
	r.FinCount = u32(l4FinCount)
	r.L7Request, r.L7Response = u32(l4L7Request), u32(l4L7Response)
	r.L7ClientError, r.L7ServerError = u32(l4L7ClientError), u32(l4L7ServerError)
	r.L7ServerTimeout = u32(l4L7ServerTimeout)
	return t.fillTags(row, names, func(c *Column, v string) { r.Tags.Add(c.Side, c.Key, v) })
}

// L7 fills r with row of an l7_flow_log table, as L4 does. The byte
// fields of r are new slices.
func (t *Table) L7(row int, names Names, r *l7.Record) error {
	if t.Type != TableL7 || row < 0 || row >= t.Rows {
		return ErrCorrupt
	}
	tags := r.Tags
	tags.Reset()
	*r = l7.Record{Tags: tags}
	r.FlowID = t.u(l7FlowID, row)
	r.StartTime = int64(t.u(l7StartTime, row))
	r.EndTime = int64(t.u(l7EndTime, row))
	r.Client = netip.AddrPortFrom(t.addr(l7IP0, row), uint16(t.u(l7ClientPort, row)))
	r.Server = netip.AddrPortFrom(t.addr(l7IP1, row), uint16(t.u(l7ServerPort, row)))
	r.Transport = l7.Transport(t.u(l7Protocol, row))
	r.L7Protocol = t.str(l7L7Protocol, row)
	r.IsTLS = t.u(l7IsTLS, row) != 0
	r.HasRequest = t.u(l7HasRequest, row) != 0
	r.HasResponse = t.u(l7HasResponse, row) != 0
	r.Version = t.bytes(l7Version, row)
	r.ReqTCPSeq = uint32(t.u(l7ReqTCPSeq, row))
	r.RespTCPSeq = uint32(t.u(l7RespTCPSeq, row))
	r.RequestLength = int(int64(t.u(l7RequestLength, row)))
	r.ResponseLength = int(int64(t.u(l7ResponseLength, row)))
	r.CapturedRequestByte = uint32(t.u(l7CapturedRequestByte, row))
	r.CapturedResponseByte = uint32(t.u(l7CapturedResponseByte, row))
	r.RequestType = t.bytes(l7RequestType, row)
	r.RequestDomain = t.bytes(l7RequestDomain, row)
	r.RequestResource = t.bytes(l7RequestResource, row)
	r.Endpoint = t.bytes(l7Endpoint, row)
	r.RequestID, r.HasRequestID = t.opt(l7RequestID, row)
	st, ok := t.opt(l7ResponseStatus, row)
	r.Status, r.HasStatus = l7.Status(st), ok
	if v := t.u(l7ResponseCode, row); v != 0 {
		r.ResponseCode, r.HasResponseCode = int32(unzigzag(v-1)), true
	}
	r.ResponseException = t.bytes(l7ResponseException, row)
	r.ResponseResult = t.bytes(l7ResponseResult, row)
	r.TraceID = t.bytes(l7TraceID, row)
	r.SpanID = t.bytes(l7SpanID, row)
	r.ParentSpanID = t.bytes(l7ParentSpanID, row)
	r.XRequestID0 = t.bytes(l7XRequestID0, row)
	r.XRequestID1 = t.bytes(l7XRequestID1, row)
	r.UserAgent = t.bytes(l7UserAgent, row)
	r.ProcessID0 = uint32(t.u(l7ProcessID0, row))
	r.ProcessID1 = uint32(t.u(l7ProcessID1, row))
	r.ProcessKName0 = t.bytes(l7ProcessKName0, row)
	r.ProcessKName1 = t.bytes(l7ProcessKName1, row)
	r.SyscallTraceIDRequest = t.u(l7SyscallTraceIDRequest, row)
	r.SyscallTraceIDResponse = t.u(l7SyscallTraceIDResponse, row)
	r.SyscallThread0 = uint32(t.u(l7SyscallThread0, row))
	r.SyscallThread1 = uint32(t.u(l7SyscallThread1, row))
	r.SyscallCoroutine0 = t.u(l7SyscallCoroutine0, row)
	r.SyscallCoroutine1 = t.u(l7SyscallCoroutine1, row)
	return t.fillTags(row, names, func(c *Column, v string) { r.Tags.Add(c.Side, c.Key, v) })
}

// Point returns where row of an l7_flow_log table was observed: its
// tap_side (DeepFlow's names: "c-p", "s-p", "c", "s", "local", "rest"; ""
// when the frame does not say) and agent_id (the capture point's name, ""
// when not sent). Rows out of range and tables of another type return
// empty strings.
func (t *Table) Point(row int) (tapSide, agentID string) {
	if t.Type != TableL7 || row < 0 || row >= t.Rows {
		return "", ""
	}
	return t.str(l7TapSide, row), t.str(l7AgentID, row)
}

func (t *Table) fillTags(row int, names Names, add func(c *Column, v string)) error {
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Type != ColTag && c.Type != ColTagString {
			continue
		}
		v, ok, err := t.TagValue(c, row, names)
		if err != nil {
			return err
		}
		if ok {
			add(c, v)
		}
	}
	return nil
}
