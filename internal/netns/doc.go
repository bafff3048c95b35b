// Package netns creates throw-away Linux network namespaces joined by veth
// pairs, so tests can run real servers, clients and captures without
// touching the host's interfaces (and never its loopback).
//
// Concurrency: a Namespace may be used from several goroutines; Do locks the
// calling goroutine to its OS thread for the duration of fn only.
//
// Errors: every function returns an error naming the failed step; the
// helpers that take a testing.TB fail the test instead and register cleanup.
// Everything needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and the ip command;
// on other platforms functions return errors.
package netns
