// Package testutil holds test helpers shared by the project's packages:
// locating the shared capture corpus and skipping, with a clear reason,
// tests whose kernel features, privileges or tools are missing.
package testutil
