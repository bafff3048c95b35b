module github.com/metaflow-go/metaflow/aggregate/otlp

go 1.24.0

require (
	github.com/metaflow-go/metaflow v0.0.0
	go.opentelemetry.io/proto/otlp v1.9.0
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/DataDog/sketches-go v1.4.8 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.27.2 // indirect
	github.com/klauspost/compress v1.18.7 // indirect
	golang.org/x/net v0.46.0 // indirect
	golang.org/x/sys v0.40.0 // indirect
	golang.org/x/text v0.30.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20250825161204-c5933d9347a5 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20250825161204-c5933d9347a5 // indirect
	google.golang.org/grpc v1.75.1 // indirect
)

replace github.com/metaflow-go/metaflow => ../..
