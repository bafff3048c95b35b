// Package web is the example server's web page: the universal service map,
// RED tables and charts, metrics over time, request (l7_flow_log) and flow
// (l4_flow_log) search, and a flame graph of a request's trace. It is
// static HTML, CSS and JavaScript embedded in the binary (no build step, no
// external resources: the page works offline), and it reads everything
// through the server's JSON query API (package query): /api/v1/servicemap,
// /api/v1/red, /api/v1/l7, /api/v1/l4, and, when the server has them
// (probed at load), /api/v1/metrics/{application,network} and
// /api/v1/trace.
//
// A click on a map node, an edge or a RED row selects the requests of that
// service or edge: the page asks the search API once per tag that can name
// the node (service, pod, address) and keeps each row only in the query of
// the tag that names it, the service map's rule, so no row shows twice.
//
//	mux.Handle("/", web.New(web.Config{Token: pageToken, QueryToken: queryToken}))
//	mux.Handle("/", web.Handler()) // no page token; GET and HEAD, other methods get 405
//
// With a page token (Config.Token) every file needs the token: as the
// cookie CookieName, which the sign-in sets, or as "Authorization: Bearer
// <token>" (curl). Without it a request gets 401 and the sign-in page
// (login/login.html, its script LoginScript served without the token),
// which takes the token from the URL fragment (#page_token=..., else
// #token=...) or a form and posts it to LoginPath; the cookie is HttpOnly,
// SameSite=Strict, Secure over TLS, and holds an HMAC of the token, not the
// token. The sign-in tells the page whether the page token is also the
// query token, so one token typed once opens both. Stats counts requests,
// refusals and sign-ins.
//
// When the server has a query token, the page takes it from the URL
// fragment (#token=...) or asks for it, keeps it in the tab's
// sessionStorage and sends it as "Authorization: Bearer <token>" with
// every API request; the page cookie opens no API endpoint.
//
// Concurrency: the handler serves any number of requests at once; the
// embedded files never change.
//
// Errors: a path that names no file gets 404; only GET and HEAD are served
// (and POST LoginPath); a missing or wrong page token 401.
package web
