// Package schedtest generates deterministic store catalogs (assets, playlists, schedules with every rule, a blob
// presence set) for selection benchmarks and load tests, so that Lomuz's selector and the SQL baselines in
// bench/selectsql run over exactly the same data. It is imported by tests and benchmarks only; it does no I/O.
package schedtest
