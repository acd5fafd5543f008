// Package testenv gives tests the real services they run against: a fresh PostgreSQL database, an S3-compatible server
// (versitygw) on loopback, external tools such as ffmpeg, and the right to create network namespaces.
//
// A missing service makes a test skip with a reason on a developer's machine. Under CI (CI set) or
// LOMUZ_REQUIRE_NETNS=1 the same absence fails the test instead, so a green CI run never hides a skipped suite.
// Every server it starts binds to 127.0.0.1 and is stopped, by its own PID, when the test ends.
package testenv
