module github.com/metaflow-go/metaflow/autotag/cloud

go 1.24.0

replace github.com/metaflow-go/metaflow => ../..
