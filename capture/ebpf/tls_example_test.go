package ebpf_test

import (
	"fmt"
	"log"

	"github.com/metaflow-go/metaflow/capture/ebpf"
	"github.com/metaflow-go/metaflow/capture/socket"
)

// TLS plaintext of every OpenSSL user and of one Go program, beside the
// system calls: the plaintext events carry the same SocketID as the
// ciphertext of their socket.
func ExampleTLSConfig() {
	tr, err := ebpf.New(ebpf.Config{TLS: ebpf.TLSConfig{
		OpenSSL:    true,
		GoBinaries: []string{"/usr/local/bin/myserver"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	var e socket.Event
	for tr.ReadEvent(&e) == nil {
		if e.TLS() {
			fmt.Printf("%s %d fd %d %v->%v %q\n", e.CommString(), e.Direction, e.Fd, e.Local, e.Remote, e.Payload)
		}
	}
}
