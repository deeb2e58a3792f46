package schemas

// The .avsc files under avro/ are generated from the catalog's topics and
// ValueSchema; a test in internal/provision fails when they are stale.
//go:generate go run ./internal/avscgen avro
