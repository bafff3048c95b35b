package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	aemm "github.com/aws/amazon-ec2-metadata-mock/pkg/cmd/root"
)

var (
	mockOnce sync.Once
	mockURL  string
	mockErr  error
)

// imdsMock runs AWS's own EC2 metadata mock (amazon-ec2-metadata-mock,
// in this process, IMDSv2 only: every GET needs the session token) on a
// free port of 26550-26599 and returns its base URL. The mock has no way
// to stop; it ends with the test binary.
func imdsMock(t *testing.T) string {
	t.Helper()
	mockOnce.Do(func() {
		port := 0
		for p := 26550; p < 26600; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err == nil {
				l.Close()
				port = p
				break
			}
		}
		if port == 0 {
			mockErr = errors.New("no free port in 26550-26599")
			return
		}
		log.SetOutput(io.Discard) // the mock logs every request
		cmd := aemm.NewCmd()
		cmd.SetArgs([]string{"--hostname", "127.0.0.1", "--port", fmt.Sprint(port), "--imdsv2"})
		go cmd.Execute()
		mockURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(mockURL + "/latest/meta-data/instance-id")
			if err == nil {
				resp.Body.Close()
				return
			}
			if time.Now().After(deadline) {
				mockErr = fmt.Errorf("the metadata mock did not start: %w", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if mockErr != nil {
		t.Fatal(mockErr)
	}
	return mockURL
}

// TestAWS_Fetch reads the values amazon-ec2-metadata-mock v1.13.0 serves
// by default (its pkg/config/defaults/aemm-metadata-default-values.json)
// through the IMDSv2 token flow.
func TestAWS_Fetch(t *testing.T) {
	url := imdsMock(t)

	// The mock runs IMDSv2 only: a GET without a token is refused.
	resp, err := http.Get(url + "/latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET without a token: status %d, want 401 (IMDSv2 only)", resp.StatusCode)
	}

	m, err := (&AWS{Endpoint: url}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Provider != "aws" || m.Region != "us-east-1" || m.AZ != "us-east-1f" ||
		m.InstanceID != "i-1234567890abcdef0" || m.Hostname != "ip-172-16-34-43.ec2.internal" {
		t.Errorf("instance: %+v", m)
	}
	if len(m.Interfaces) != 1 {
		t.Fatalf("interfaces: %+v, want the primary one", m.Interfaces)
	}
	ifc := m.Interfaces[0]
	if ifc.MAC != "0e:49:61:0f:c3:11" || ifc.VPC != "vpc-d295a6a7" || ifc.Subnet != "subnet-0ac62554" {
		t.Errorf("interface ids: %+v", ifc)
	}
	wantAddrs := []netip.Addr{netip.MustParseAddr("172.16.34.43"), netip.MustParseAddr("2001:db8:8:4::2")}
	if !slices.Equal(ifc.Addrs, wantAddrs) {
		t.Errorf("addresses %v, want %v", ifc.Addrs, wantAddrs)
	}
	if !slices.Equal(ifc.Public, []netip.Addr{netip.MustParseAddr("192.0.2.54")}) {
		t.Errorf("public addresses %v", ifc.Public)
	}
	if want := map[string]string{"Name": "test-instance", "Test": "test-tag"}; !maps.Equal(m.Tags, want) {
		t.Errorf("tags %v, want %v", m.Tags, want)
	}
	if !slices.Contains(ifc.Subnets, netip.MustParsePrefix("192.0.2.0/24")) {
		t.Errorf("subnet prefixes %v", ifc.Subnets)
	}
}

// TestAWS_Fetch_notThere: nothing listening is ErrNotDetected.
func TestAWS_Fetch_notThere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = (&AWS{Endpoint: "http://" + addr}).Fetch(context.Background())
	if !errors.Is(err, ErrNotDetected) {
		t.Fatalf("Fetch: %v, want ErrNotDetected", err)
	}
}
