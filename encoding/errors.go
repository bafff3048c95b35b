package encoding

import (
	"errors"
	"strconv"
)

// Sentinel errors. Decoding errors from a frame's body are wrapped in a
// *FormatError that says where; the others are returned as they are (or
// wrapped with %w), so errors.Is matches all of them.
var (
	// ErrMagic: the input does not start with a frame's or a delta's magic.
	ErrMagic = errors.New("encoding: bad magic")
	// ErrVersion: the frame's major version is not one this decoder reads.
	ErrVersion = errors.New("encoding: unsupported format version")
	// ErrFlags: the frame sets a required flag this decoder does not know.
	ErrFlags = errors.New("encoding: unknown required flag")
	// ErrChecksum: the CRC32C does not match the bytes.
	ErrChecksum = errors.New("encoding: checksum mismatch")
	// ErrTooLarge: a frame, its decompressed body, a row count or a string
	// exceeds the configured limit.
	ErrTooLarge = errors.New("encoding: size limit exceeded")
	// ErrTruncated: the input ends inside a header, a value or a column.
	ErrTruncated = errors.New("encoding: truncated")
	// ErrCorrupt: a value is out of range or inconsistent (a varint
	// overflows, a column holds too many values, an index points past the
	// string table).
	ErrCorrupt = errors.New("encoding: corrupt data")
	// ErrResync: the agent's dictionary (or a batch's ids) belongs to
	// another epoch of the server's dictionary, or is ahead of it: the
	// server lost state. The agent must drop its dictionary and sync from
	// version 0. Returned as a *ResyncError.
	ErrResync = errors.New("encoding: dictionary out of sync, resync from scratch")
	// ErrGap: a delta starts after the receiver's version (a delta was
	// missed); ask for a delta from the receiver's own version.
	ErrGap = errors.New("encoding: delta does not follow the dictionary's version")
	// ErrUnknownID: a batch uses an id the dictionary never assigned.
	ErrUnknownID = errors.New("encoding: unknown dictionary id")
	// ErrConflict: a delta assigns an id that the receiver already holds
	// with another value (or a value with another id).
	ErrConflict = errors.New("encoding: delta conflicts with the dictionary")
	// ErrFull: a key's dictionary reached DictConfig.MaxIDs.
	ErrFull = errors.New("encoding: dictionary full")
)

// FormatError is a malformed frame or delta body: Offset is the byte offset
// in the decompressed body (or in the delta) where decoding stopped, Err one
// of the sentinels (ErrTruncated, ErrCorrupt, ErrTooLarge).
type FormatError struct {
	Offset int
	What   string // what was being read, e.g. "column flow_id"
	Err    error
}

func (e *FormatError) Error() string {
	s := "encoding: bad body at offset " + strconv.Itoa(e.Offset)
	if e.What != "" {
		s += " (" + e.What + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *FormatError) Unwrap() error { return e.Err }

// ResyncError says why an agent must resync: its (Epoch, Version) and the
// server's. It matches ErrResync with errors.Is.
type ResyncError struct {
	Epoch, Version             uint64 // what the agent (or batch) claimed
	ServerEpoch, ServerVersion uint64 // what the server has
}

func (e *ResyncError) Error() string {
	return "encoding: dictionary out of sync (agent epoch " + strconv.FormatUint(e.Epoch, 16) +
		" version " + strconv.FormatUint(e.Version, 10) + ", server epoch " +
		strconv.FormatUint(e.ServerEpoch, 16) + " version " + strconv.FormatUint(e.ServerVersion, 10) +
		"), resync from scratch"
}

func (e *ResyncError) Unwrap() error { return ErrResync }
