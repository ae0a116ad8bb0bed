// Package metrics defines onramp's Prometheus metrics and serves them.
//
// One *Metrics holds every collector, registered on a registry the caller
// makes (prometheus.NewRegistry, never the library's global default), with the
// Go runtime and process collectors beside them. The components that count
// something do not import this package: each declares the small interface or
// callback it needs (jit.Metrics, sqlstore.WithObserver, server.Config.Metrics)
// and cmd/onramp hands them this one.
//
// Every label takes values from a closed set, so that no client can grow the
// number of series: routes are echo's route patterns (/saml/:org/:connection/acs),
// never raw paths; SCIM operations are resource type and verb (Users.patch); JIT
// rules and SAML rejection reasons are jit's stable codes; store operations are
// the store's write names. Organization and user IDs are never labels: they
// belong in the logs, which carry them with the request ID.
//
// The series:
//
//	onramp_http_request_duration_seconds{method,route,code}  histogram
//	onramp_scim_requests_total{operation,code}               counter
//	onramp_jit_decisions_total{outcome,rule}                 counter
//	onramp_saml_rejections_total{reason}                     counter
//	onramp_store_operation_duration_seconds{operation,result} histogram
//	onramp_purged_total{what}                                counter
//
// plus go_* and process_* from the standard collectors.
package metrics
