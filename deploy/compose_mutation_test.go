package deploy

import (
	"strings"
	"testing"
)

// TestComposeChecksCanFail breaks docker-compose.yml one way at a time and
// requires checkCompose to notice: a check that cannot fail proves nothing.
// Each edit must match the file exactly once, so the table cannot go stale
// silently when the file changes.
func TestComposeChecksCanFail(t *testing.T) {
	src := readCompose(t)
	mutations := []struct{ name, old, new string }{
		{"kafka service missing", "\n  kafka:\n", "\n  broker:\n"},
		{"ui service missing", "\n  kafka-ui:\n", "\n  ui:\n"},
		{"kafka on latest", "image: apache/kafka:3.9.1", "image: apache/kafka:latest"},
		{"registry untagged", "image: confluentinc/cp-schema-registry:7.9.0", "image: confluentinc/cp-schema-registry"},
		{"ui on a moving tag", "image: ghcr.io/kafbat/kafka-ui:v1.2.0", "image: ghcr.io/kafbat/kafka-ui:main"},
		{"kafka not KRaft", "KAFKA_PROCESS_ROLES: broker,controller", "KAFKA_ZOOKEEPER_CONNECT: zookeeper:2181"},
		{"auto topic creation on", `KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false"`, `KAFKA_AUTO_CREATE_TOPICS_ENABLE: "true"`},
		{"txn state log RF 3", `KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1"`, `KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "3"`},
		{"txn state log ISR missing", `KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1"`, `KAFKA_LOG_RETENTION_HOURS: "1"`},
		{"offsets RF 3", `KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1"`, `KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "3"`},
		{"no host listener", "EXTERNAL://localhost:29092", "EXTERNAL://kafka:29092"},
		{"registry elsewhere", "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: PLAINTEXT://kafka:9092", "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: PLAINTEXT://localhost:9092"},
		{"registry compatibility", "SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL: backward_transitive", "SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL: backward"},
		{"ui without kafka", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: kafka:9092", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: localhost:29092"},
		{"ui without registry", "KAFKA_CLUSTERS_0_SCHEMAREGISTRY: http://schema-registry:8081", "KAFKA_CLUSTERS_0_SCHEMAREGISTRY_OFF: x"},
		{"provbus brokers wrong", "PROVBUS_BROKERS: kafka:9092", "PROVBUS_BROKERS: localhost:9092"},
		{"provbus registry wrong", "PROVBUS_REGISTRY: http://schema-registry:8081", "PROVBUS_REGISTRY: http://registry:8081"},
		{"topology not one-shot", "restart: \"no\"", "restart: unless-stopped"},
		{"topology does not apply", `command: ["topology", "apply"]`, `command: ["topology", "plan"]`},
		{"process one replica", "replicas: 2", "replicas: 1"},
		{"process metrics on loopback only", `command: ["process", "--metrics", "0.0.0.0:9464"]`, `command: ["process"]`},
		{"kafka healthcheck gone", "kafka-broker-api-versions.sh --bootstrap-server", "true ||"},
		{"registry healthcheck gone", "\"http://localhost:8081/subjects\"", "\"http://localhost:8081/\""},
		{"ingest healthcheck gone", "\"--url\", \"http://127.0.0.1:8080/healthz\"", "\"--url\", \"http://127.0.0.1:8080/\""},
		{"ingest on loopback", "PROVBUS_INGEST_LISTEN: 0.0.0.0:8080", "PROVBUS_INGEST_LISTEN: 127.0.0.1:8080"},
		{"ingest port unpublished", "\"8080:8080\"", "\"18080:9090\""},
		{"ingest without auth", "PROVBUS_INGEST_AUTH_PORTABILLING_PASSWORD: ${ESPF_PASSWORD:?set ESPF_PASSWORD}\n      PROVBUS_INGEST_AUTH_TRANSATEL_SECRETS: ${TRANSATEL_SECRETS:?set TRANSATEL_SECRETS}\n      PROVBUS_INGEST_AUTH_JERASOFT_TOKEN: ${JERASOFT_TOKEN:?set JERASOFT_TOKEN}", ""},
		// Issue 12 #6: secure by default.
		{"kafka on every interface", `"127.0.0.1:29092:29092"`, `"29092:29092"`},
		{"registry on every interface", `"127.0.0.1:8081:8081"`, `"8081:8081"`},
		{"ui on every interface", `"127.0.0.1:8090:8080"`, `"0.0.0.0:8090:8080"`},
		{"ui writable", `KAFKA_CLUSTERS_0_READONLY: "true"`, `KAFKA_CLUSTERS_0_READONLY: "false"`},
		{"ui without login", "AUTH_TYPE: LOGIN_FORM", "AUTH_TYPE: DISABLED"},
		{"ui password with a default", "${KAFKA_UI_PASSWORD:?set KAFKA_UI_PASSWORD}", "${KAFKA_UI_PASSWORD:-admin}"},
		{"secret with a default", "${ESPF_PASSWORD:?set ESPF_PASSWORD}", "${ESPF_PASSWORD:-change-me-espf-password}"},
		{"secret in the file", "${JERASOFT_TOKEN:?set JERASOFT_TOKEN}", "s3cr3t-token"},
		{"user with a default", "${ESPF_USERNAME:?set ESPF_USERNAME}", "${ESPF_USERNAME-portabilling}"},
		{"process metrics published", "    restart: unless-stopped\n    deploy:", "    restart: unless-stopped\n    ports:\n      - \"127.0.0.1:9464:9464\"\n    deploy:"},
		{"process does not wait for topology", "    command: [\"process\", \"--metrics\", \"0.0.0.0:9464\"]\n    restart: unless-stopped\n    deploy:\n      replicas: 2\n    depends_on:\n      topology:\n        condition: service_completed_successfully",
			"    command: [\"process\", \"--metrics\", \"0.0.0.0:9464\"]\n    restart: unless-stopped\n    deploy:\n      replicas: 2\n    depends_on:\n      topology:\n        condition: service_started"},
		{"ingest does not wait for topology", "    depends_on:\n      topology:\n        condition: service_completed_successfully\n      kafka:\n        condition: service_healthy\n      schema-registry:\n        condition: service_healthy\n    healthcheck:",
			"    depends_on:\n      kafka:\n        condition: service_healthy\n      schema-registry:\n        condition: service_healthy\n    healthcheck:"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			if n := strings.Count(src, m.old); n != 1 {
				t.Fatalf("mutation matches %d times in docker-compose.yml, want 1: %q", n, m.old)
			}
			c, err := parseCompose([]byte(strings.Replace(src, m.old, m.new, 1)))
			if err != nil {
				t.Fatalf("mutated file does not parse: %v", err)
			}
			errs := checkCompose(c)
			if len(errs) == 0 {
				t.Fatal("checkCompose accepted the broken file")
			}
			t.Logf("caught: %v", errs[0])
		})
	}
}
