package decode_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
)

func ExampleDecoder_Decode() {
	// An Ethernet frame: VXLAN (VNI 42) from 192.168.0.1 to 192.168.0.2
	// carrying TCP 10.0.0.1:40000 -> 10.0.0.2:80 with "hi".
	frame, _ := hex.DecodeString("" +
		"0200000000010200000000020800" + // Ethernet
		"4500005c0000000040110000c0a80001c0a80002" + // IPv4
		"c35012b500480000" + // UDP
		"0800000000002a00" + // VXLAN
		"0200000000010200000000020800" + // inner Ethernet
		"4500002a00000000400600000a0000010a000002" + // inner IPv4
		"9c40005000000001000000025018ffff00000000" + // TCP
		"6869") // payload
	dec := decode.NewDecoder(decode.Config{})
	var m decode.Meta
	pkt := capture.Packet{Timestamp: time.Unix(0, 0), Data: frame, Length: len(frame), LinkType: capture.LinkEthernet}
	if err := dec.Decode(&pkt, &m); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v:%d -> %v:%d proto %d payload %q\n", m.Src, m.SrcPort, m.Dst, m.DstPort, m.Proto, m.Payload)
	fmt.Printf("tunnel %v id %d from %v to %v\n", m.Tunnel.Type, m.Tunnel.ID, m.Tunnel.Src, m.Tunnel.Dst)

	// An ARP frame is not an alarm: it is counted and skipped.
	arp := append(frame[:12:12], 0x08, 0x06)
	pkt.Data = append(arp, make([]byte, 28)...)
	err := dec.Decode(&pkt, &m)
	fmt.Println(errors.Is(err, decode.ErrNotIP), err, dec.Stats().NotIP)
	// Output:
	// 10.0.0.1:40000 -> 10.0.0.2:80 proto 6 payload "hi"
	// tunnel VXLAN id 42 from 192.168.0.1 to 192.168.0.2
	// true ethernet at offset 12: decode: not IP 1
}
