package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// MetricsPath is where the metrics are served, when Config.Metrics is set.
const MetricsPath = "/metrics"

// Metrics is what the server reports every request to; *metrics.Metrics is
// one.
type Metrics interface {
	// ObserveRequest records an answered request by its route pattern.
	ObserveRequest(method, route string, code int, d time.Duration)
	// SCIMRequest counts an answered SCIM request by operation.
	SCIMRequest(operation string, code int)
	// Handler serves the metrics at MetricsPath.
	Handler() http.Handler
}

// metricsMiddleware reports each request's latency under its route pattern
// (never the raw path, whose IDs would make a series per resource) and, for
// SCIM, its operation. Like logMiddleware it renders an error itself, so
// that the status it reports is the one sent.
func metricsMiddleware(m Metrics, now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			r := c.Request()
			status := c.Response().Status
			route := c.Path()
			if rel, ok := scimRelative(route, r.URL.Path); ok {
				route = SCIMPrefix + scimRoute(rel)
				m.SCIMRequest(scimOperation(r.Method, rel), status)
			}
			m.ObserveRequest(r.Method, route, status, now().Sub(start))
			return nil
		}
	}
}

// scimRelative returns the path under SCIMPrefix of a request routed to the
// SCIM handler.
func scimRelative(route, path string) (string, bool) {
	if route != SCIMPrefix && route != SCIMPrefix+"/*" {
		return "", false
	}
	rel := strings.TrimPrefix(path, SCIMPrefix)
	if rel == "" {
		rel = "/"
	}
	return rel, true
}

// scimResource reports whether name is a SCIM endpoint (RFC 7644 section
// 3.2) that operations and routes are named after; any other path is "other".
func scimResource(name string) bool {
	switch name {
	case "Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes":
		return true
	}
	return false
}

// scimSplit splits a path under the SCIM base into its resource type and
// what follows ("" for the collection, ".search", or an ID). ok is false for
// paths that name no SCIM resource type.
func scimSplit(rel string) (resource, rest string, ok bool) {
	resource, rest, _ = strings.Cut(strings.TrimPrefix(rel, "/"), "/")
	if !scimResource(resource) || strings.Contains(rest, "/") {
		return "", "", false
	}
	return resource, rest, true
}

// scimRoute is the route pattern of a path under the SCIM base:
// /Users/:id for /Users/2819c223…, /other for unknown paths.
func scimRoute(rel string) string {
	resource, rest, ok := scimSplit(rel)
	switch {
	case !ok:
		return "/other"
	case rest == "":
		return "/" + resource
	case rest == ".search":
		return "/" + resource + "/.search"
	}
	return "/" + resource + "/:id"
}

// scimOperation names a SCIM request by resource type and verb, as the
// protocol does (RFC 7644 section 3): Users.create, Users.get, Users.list,
// Users.search, Users.replace, Users.patch, Users.delete; the same for
// Groups; Schemas.get, ServiceProviderConfig.get and so on. Anything else is
// "other" or Resource.other.
func scimOperation(method, rel string) string {
	resource, rest, ok := scimSplit(rel)
	if !ok {
		return "other"
	}
	verb := "other"
	switch {
	case rest == ".search" && method == http.MethodPost:
		verb = "search"
	case rest == ".search":
	case rest == "" && method == http.MethodGet:
		verb = "list"
		if resource == "ServiceProviderConfig" {
			verb = "get"
		}
	case rest == "" && method == http.MethodPost:
		verb = "create"
	case rest != "" && method == http.MethodGet:
		verb = "get"
	case rest != "" && method == http.MethodPut:
		verb = "replace"
	case rest != "" && method == http.MethodPatch:
		verb = "patch"
	case rest != "" && method == http.MethodDelete:
		verb = "delete"
	}
	return resource + "." + verb
}
