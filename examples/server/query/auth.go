package query

import (
	"net/http"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
)

// Authorize checks r for the API token as the endpoints do, counting the
// request and, without the token, answering 401 (counted as Unauthorized)
// and returning false. The server's other API endpoints (GET
// /api/v1/stats) use it so that they take the query token too.
func (a *API) Authorize(w http.ResponseWriter, r *http.Request) bool {
	a.requests.Add(1)
	if ingest.Authorized(r, a.token) {
		return true
	}
	a.unauth.Add(1)
	http.Error(w, "query: missing or wrong bearer token", http.StatusUnauthorized)
	return false
}
