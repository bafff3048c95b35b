package capture_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/metaflow-go/metaflow/capture"
)

// Capture 100 packets from eth0 into out.pcap, as tcpdump -i eth0 -c 100
// -w out.pcap does. (Not run: it needs CAP_NET_RAW and an eth0.)
func ExampleOpenAFPacket() {
	src, err := capture.OpenAFPacket(capture.AFPacketConfig{Interface: "eth0"})
	if errors.Is(err, capture.ErrPermission) || errors.Is(err, capture.ErrNotSupported) {
		fmt.Fprintln(os.Stderr, err) // names the missing capability, or the platform
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer src.Close()

	f, err := os.Create("out.pcap")
	if err != nil {
		return
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	defer bw.Flush()
	w, err := capture.NewPcapWriter(bw, src.LinkType(), src.Snaplen())
	if err != nil {
		return
	}
	var p capture.Packet // reused: Data is valid until the next ReadPacket
	for range 100 {
		if err := src.ReadPacket(&p); err != nil {
			break
		}
		if err := w.WritePacket(&p); err != nil {
			break
		}
	}
	st := src.Stats()
	fmt.Printf("%d packets, %d dropped by the kernel\n", st.Packets, st.Dropped)
}

// Share an interface's packets between two readers (for example one per
// CPU): the kernel gives each flow to one of them.
func ExampleAFPacketConfig_fanout() {
	cfg := capture.AFPacketConfig{Interface: "eth0", Fanout: capture.FanoutHash, FanoutGroup: 42}
	for i := range 2 {
		src, err := capture.OpenAFPacket(cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		go func() {
			defer src.Close()
			var p capture.Packet
			for src.ReadPacket(&p) == nil {
				_ = i // handle p
			}
		}()
	}
}
