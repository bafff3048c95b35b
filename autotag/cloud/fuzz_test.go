package cloud

import (
	"os"
	"testing"
)

// The metadata documents are untrusted input: any bytes give Metadata or
// an error, never a panic, and every address or prefix kept is valid.

func checkMetadata(t *testing.T, m *Metadata) {
	for _, ifc := range m.Interfaces {
		for _, a := range append(ifc.Addrs, ifc.Public...) {
			if !a.IsValid() || a.Is4In6() {
				t.Fatalf("invalid address %v", a)
			}
		}
		for _, p := range append(ifc.Subnets, ifc.VPCs...) {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("invalid prefix %v", p)
			}
		}
	}
	Entries(m, 0)
}

func seed(f *testing.F, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[`))
}

func FuzzParseGCP(f *testing.F) {
	seed(f, "testdata/gcp-instance.json")
	f.Add([]byte(`{"id":1,"zone":"z","networkInterfaces":[{"ip":"::ffff:10.0.0.1","subnetmask":"255.255.255.0"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseGCP(b); err == nil {
			checkMetadata(t, m)
		}
	})
}

func FuzzParseAzure(f *testing.F) {
	seed(f, "testdata/azure-instance.json")
	f.Add([]byte(`{"compute":{"vmId":"x","location":"y"},"network":{"interface":[{"ipv4":{"subnet":[{"address":"10.0.0.1","prefix":"99"}]}}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseAzure(b); err == nil {
			checkMetadata(t, m)
		}
	})
}

func FuzzParseAWSIdentity(f *testing.F) {
	f.Add([]byte(`{"accountId":"0123456789","availabilityZone":"us-east-1f","instanceId":"i-1234567890abcdef0","privateIp":"10.0.7.10","region":"us-east-1"}`))
	f.Add([]byte(`{"instanceId":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := parseAWSIdentity(b)
		if err == nil && (id.InstanceID == "" || id.Region == "") {
			t.Fatalf("accepted %+v", id)
		}
		lines(b)
	})
}
