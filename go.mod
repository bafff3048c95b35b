module github.com/metaflow-go/metaflow

go 1.26.8
