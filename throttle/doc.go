// Package throttle bounds what one key (an API token, a client address) may
// ask of this process: a token-bucket request rate (golang.org/x/time/rate)
// and a number of requests in flight at once.
//
// The state is per process, on purpose: these limits protect the process
// and the store behind it from one client, and a client spread over N
// replicas by a load balancer gets N times the allowance, which is the
// capacity N replicas have. Limits that must hold across replicas (the
// email sign-in's, the mass de-provisioning safety rail) are counted in the
// store instead.
//
// Memory is bounded: keys that are idle (nothing in flight, bucket full)
// are forgotten once the table grows, so a stream of new client addresses
// cannot grow it without end.
package throttle
