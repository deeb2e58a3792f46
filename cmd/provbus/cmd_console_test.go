package main

import (
	"context"
	"testing"
)

// TestConsoleRefusesOpenAddress: without console credentials, provbus
// console will not listen beyond loopback (exit 2, before any connection);
// with a token it gets past that check (and then fails on the missing
// cluster, exit 1).
func TestConsoleRefusesOpenAddress(t *testing.T) {
	ctx := context.Background()
	t.Setenv("PROVBUS_CONSOLE_TOKEN", "")
	if code := run(ctx, []string{"--brokers", "127.0.0.1:1", "console", "--http", "0.0.0.0:0"}); code != 2 {
		t.Fatalf("console on 0.0.0.0 without credentials: exit %d, want 2", code)
	}
	t.Setenv("PROVBUS_CONSOLE_TOKEN", "0123456789abcdef0123456789abcdef")
	if code := run(ctx, []string{"--brokers", "127.0.0.1:1", "console", "--http", "0.0.0.0:0"}); code != 1 {
		t.Fatalf("console on 0.0.0.0 with a token and no cluster: exit %d, want 1", code)
	}
}
