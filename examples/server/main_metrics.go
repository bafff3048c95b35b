package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// metricsConfig is the store's MetricsConfig of the -metrics-* flags.
func metricsConfig(o options) (store.MetricsConfig, error) {
	mc := store.MetricsConfig{FlushInterval: o.metricsFlush, Retention1s: o.metricsRet1s, Retention1m: o.metricsRet1m}
	if o.metricsRet1s < 0 || o.metricsRet1m < 0 {
		return mc, fmt.Errorf("-metrics-retention-1s and -1m must not be negative")
	}
	if o.metricsRet == "" {
		return mc, nil
	}
	names := map[string]bool{}
	for _, t := range store.MetricTables() {
		names[t.Name] = true
	}
	mc.Retention = map[string]time.Duration{}
	for _, kv := range strings.Split(o.metricsRet, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || !names[k] {
			return mc, fmt.Errorf("-metrics-retention %q: want table=duration with a table of %v", kv, store.MetricTables()[0].Name+", ...")
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return mc, fmt.Errorf("-metrics-retention %s: bad duration %q", k, v)
		}
		mc.Retention[k] = d
	}
	return mc, nil
}
