//go:build !((pcap && (linux || darwin)) || windows)

package pcap_test

import (
	"errors"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/pcap"
)

func TestOpen_NotSupported(t *testing.T) {
	if _, err := pcap.Open(pcap.Config{Interface: "lo"}); !errors.Is(err, capture.ErrNotSupported) {
		t.Fatalf("Open = %v, want ErrNotSupported", err)
	}
}
