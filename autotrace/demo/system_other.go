//go:build !linux

package demo

import (
	"context"
	"log/slog"
	"time"
)

// Config says how to run the demo; see the Linux build for the fields'
// meaning.
type Config struct {
	Dir, RepoRoot, Agent, GoService string
	Clients                         int
	Duration                        time.Duration
	Rate                            float64
	MaxRequests                     int
	EBPFArgs                        []string
	NoEBPF, NoPackets               bool
	NginxWorkers                    int
	Logger                          *slog.Logger
}

// Result is what Run produced.
type Result struct {
	Records, Truth   string
	OTel             string
	Requests, Failed int
	Lines            map[string]int
}

// Run returns ErrNotSupported: the demo needs Linux network namespaces.
func Run(ctx context.Context, cfg Config) (*Result, error) { return nil, ErrNotSupported }
