package filter_test

import (
	"fmt"
	"io"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/filter"
)

// Replaying a capture file through a filter.
func ExampleNew() {
	src, err := capture.OpenFile("testdata/lt-ether.pcap")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	f, err := filter.New("tcp[tcpflags] & tcp-syn != 0 or udp port 53")
	if err != nil {
		fmt.Println(err)
		return
	}
	var p capture.Packet
	n := 0
	for {
		if err := src.ReadPacket(&p); err == io.EOF {
			break
		} else if err != nil {
			fmt.Println(err)
			return
		}
		if f.Match(&p) {
			n++
		}
	}
	fmt.Println(n, "packets match")
	// Output: 5 packets match
}

// A program for the kernel (SO_ATTACH_FILTER on an AF_PACKET socket).
func ExampleCompile() {
	prog, err := filter.Compile("ip and udp", capture.LinkEthernet, 65535)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(prog), "instructions")
	_, err = filter.Compile("tcp and prot", capture.LinkEthernet, 0)
	fmt.Println(err)
	// Output:
	// 6 instructions
	// filter: unexpected "prot" at 8: expected primitive
}
