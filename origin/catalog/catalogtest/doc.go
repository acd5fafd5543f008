// Package catalogtest is the conformance suite every catalog.Store backend passes: Run(t, newStore) runs one subtest
// per behaviour, each on a fresh store from newStore. A backend's test file is a few lines.
//
// It must not depend on any backend, and it tests only behaviour the catalog.Store contract promises.
package catalogtest
