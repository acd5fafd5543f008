// Package blobtest is the conformance suite every blob.Store backend passes: Run(t, factory) runs each subtest on a
// fresh store. It checks the contract written on blob.Store: streaming Put with digest and size checks that store
// nothing on failure, byte ranges, stat, idempotent delete, ordered prefix listing, key validation, atomic
// replacement under concurrent writers and, for stores that implement blob.Presigner, a real HTTP GET of the URL.
//
// It must not depend on any backend; backends' tests call it.
package blobtest
