module github.com/metaflow-go/metaflow

go 1.24.0

require (
	github.com/DataDog/sketches-go v1.4.8
	github.com/google/gopacket v1.1.19
	github.com/klauspost/compress v1.18.7
	golang.org/x/net v0.46.0
	golang.org/x/sys v0.40.0
)

require google.golang.org/protobuf v1.36.11 // indirect
