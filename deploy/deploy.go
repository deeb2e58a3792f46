// Package deploy holds the deployment artefacts that are not Go code —
// grafana/provbus.json here, docker-compose.yml, Dockerfile and
// provbus.example.yaml at the repository root — and the tests that keep
// them honest without a Docker engine: the compose wiring, the example
// configuration, the dashboard's metric names (the contract listed in
// docs/operations.md).
package deploy
