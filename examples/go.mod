module github.com/metaflow-go/metaflow/examples

go 1.24.0

require github.com/metaflow-go/metaflow v0.0.0

require (
	github.com/DataDog/sketches-go v1.4.8 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.27.2 // indirect
	github.com/klauspost/compress v1.18.7 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_golang v1.23.2 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.66.1 // indirect
	github.com/prometheus/procfs v0.16.1 // indirect
	go.opentelemetry.io/proto/otlp v1.9.0 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	golang.org/x/text v0.30.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20250825161204-c5933d9347a5 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20250825161204-c5933d9347a5 // indirect
	google.golang.org/grpc v1.75.1 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

require (
	github.com/metaflow-go/metaflow/aggregate/otlp v0.0.0
	github.com/metaflow-go/metaflow/aggregate/prometheus v0.0.0
	golang.org/x/net v0.46.0 // indirect
	golang.org/x/sys v0.40.0 // indirect
)

replace github.com/metaflow-go/metaflow => ../

replace github.com/metaflow-go/metaflow/aggregate/prometheus => ../aggregate/prometheus

replace github.com/metaflow-go/metaflow/aggregate/otlp => ../aggregate/otlp
