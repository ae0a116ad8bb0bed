// Package storetest checks that a store.Store implementation honours the contract
// in store/doc.go. Every backend runs the same suite, Run, from its own tests, and
// the same benchmarks, Bench, so that engines are compared within one run.
//
// Engine differences are declared through Capabilities, never by testing the
// engine's name.
package storetest
