package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/metaflow-go/metaflow/examples/server/web"
)

// The page mounted beside a query API: "/" catches what the API's
// patterns do not.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/red", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"rows":[]}`) })
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/", "/app.js", "/api/v1/red", "/api/v1/nope"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(p, resp.StatusCode)
	}
	// Output:
	// / 200
	// /app.js 200
	// /api/v1/red 200
	// /api/v1/nope 404
}
