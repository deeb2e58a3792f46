package main

import (
	"testing"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/edge"
)

// The configuration's documented limits are the edge's defaults: the
// two are written in two places, and must not drift.
func TestConfigLimitsAreTheEdgeDefaults(t *testing.T) {
	if got := edgeLimits(config.Default().Ingest.Limits); got != edge.DefaultLimits {
		t.Errorf("config defaults %+v, edge defaults %+v", got, edge.DefaultLimits)
	}
}
