module github.com/metaflow-go/metaflow/examples

go 1.24.0

require github.com/metaflow-go/metaflow v0.0.0-00010101000000-000000000000

require (
	golang.org/x/net v0.46.0 // indirect
	golang.org/x/sys v0.40.0 // indirect
)

replace github.com/metaflow-go/metaflow => ../
