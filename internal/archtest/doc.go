// Package archtest holds the tests that enforce the boundaries between Lomuz's parts (ARCHITECTURE.md): what each
// package may import, directly or through others. It has no code of its own.
package archtest
