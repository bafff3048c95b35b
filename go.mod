module github.com/metaflow-go/metaflow

go 1.25.0

require (
	github.com/DataDog/sketches-go v1.4.8
	github.com/cilium/ebpf v0.22.0
	github.com/google/gopacket v1.1.19
	github.com/klauspost/compress v1.18.7
	golang.org/x/arch v0.30.0
	golang.org/x/net v0.48.0
	golang.org/x/sys v0.43.0
)

require google.golang.org/protobuf v1.36.11 // indirect
