// Package sender delivers an agent's SmartEncoding frames to the example
// server (examples/server, POST /api/v1/batches) at least once: each frame
// gets a batch id and goes to a bounded spool (a directory, or memory)
// before Send returns; a goroutine posts the spooled batches in order with
// retries and exponential backoff, and deletes a batch only when the server
// acknowledged it. The acknowledgement is the server's dictionary delta,
// applied to the agent's AgentDict so its encoder sends ids from then on.
//
// A spool directory survives restarts: New picks up the batches a previous
// run left and sends them again under the same ids, which the server
// de-duplicates. When the spool is full the oldest batches are dropped and
// counted (Stats.Dropped). A batch the server refuses for good (400, 413:
// it can never be stored; 409: its tag ids belong to a dictionary epoch the
// server no longer has) is dropped and counted too; 401, 5xx and network
// errors are retried.
//
// TLS: an https:// URL is verified against the system's roots, or the CA
// file and server name of TLSConfig (Config.TLS); a certificate the client
// does not trust fails with an error that says so, retried like a network
// error, the batch kept in the spool. New refuses a token over plaintext
// http:// to a host that is not loopback (ErrPlaintext) unless
// Config.InsecurePlaintext.
//
// The package is plain Go (no cgo): agents import it.
package sender
