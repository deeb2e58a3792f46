package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const composePath = "../docker-compose.yml"

// composeFile is the part of the Compose specification the checks read.
type composeFile struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string               `yaml:"image"`
	Build       yaml.Node            `yaml:"build"`
	Command     []string             `yaml:"command"`
	Environment envMap               `yaml:"environment"`
	DependsOn   map[string]dependsOn `yaml:"depends_on"`
	Healthcheck *healthcheck         `yaml:"healthcheck"`
	Restart     string               `yaml:"restart"`
	Ports       []string             `yaml:"ports"`
	Deploy      struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

type healthcheck struct {
	Test    stringOrList `yaml:"test"`
	Disable bool         `yaml:"disable"`
}

// envMap accepts both Compose forms: a mapping and a list of KEY=VALUE.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	*e = envMap{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*e)[k] = v
	}
	return nil
}

// stringOrList accepts a healthcheck test as a list or a shell string.
type stringOrList string

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*s = stringOrList(strings.Join(list, " "))
		return nil
	}
	var str string
	err := n.Decode(&str)
	*s = stringOrList(str)
	return err
}

func parseCompose(b []byte) (composeFile, error) {
	var c composeFile
	err := yaml.Unmarshal(b, &c)
	return c, err
}

// The in-network addresses the provbus services must use.
const (
	kafkaInternal = "kafka:9092"
	registryURL   = "http://schema-registry:8081"
)

// thirdPartyTag is what a pinned upstream tag looks like: a version, never
// latest or a moving major alone.
var thirdPartyTag = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?([-.][0-9A-Za-z.]+)?$`)

// checkCompose returns every way c departs from what issue 7 asks of the
// compose file.
func checkCompose(c composeFile) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, name := range []string{"kafka", "schema-registry", "kafka-ui", "topology", "ingest", "process"} {
		if _, ok := c.Services[name]; !ok {
			bad("service %s is missing", name)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	for name, s := range c.Services {
		checkImage(name, s, bad)
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			switch {
			case !ok:
				bad("%s depends on unknown service %s", name, dep)
			case d.Condition == "service_healthy" && (target.Healthcheck == nil || target.Healthcheck.Disable):
				bad("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
	}

	kafka := c.Services["kafka"]
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") {
		bad("kafka: image %q is not apache/kafka", kafka.Image)
	}
	ke := kafka.Environment
	roles := ke["KAFKA_PROCESS_ROLES"]
	if !strings.Contains(roles, "broker") || !strings.Contains(roles, "controller") || ke["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "" {
		bad("kafka: not KRaft combined mode (process.roles %q, quorum voters %q)", roles, ke["KAFKA_CONTROLLER_QUORUM_VOTERS"])
	}
	for k := range ke {
		if strings.Contains(k, "ZOOKEEPER") {
			bad("kafka: %s set, but the broker runs KRaft", k)
		}
	}
	for k, want := range map[string]string{
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
	} {
		if got := ke[k]; got != want {
			bad("kafka: %s = %q, want %q", k, got, want)
		}
	}
	adv := ke["KAFKA_ADVERTISED_LISTENERS"]
	if !strings.Contains(adv, "//"+kafkaInternal) {
		bad("kafka: no in-network listener %s in advertised listeners %q", kafkaInternal, adv)
	}
	if m := regexp.MustCompile(`//localhost:(\d+)`).FindStringSubmatch(adv); m == nil {
		bad("kafka: no host listener (localhost:PORT) in advertised listeners %q", adv)
	} else if !publishes(kafka, m[1]) {
		bad("kafka: host listener port %s is not published", m[1])
	}
	checkHealth("kafka", kafka, "kafka-broker-api-versions", bad)

	sr := c.Services["schema-registry"]
	if !strings.HasPrefix(sr.Image, "confluentinc/cp-schema-registry:") {
		bad("schema-registry: image %q is not confluentinc/cp-schema-registry", sr.Image)
	}
	if bs := sr.Environment["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]; !strings.Contains(bs, kafkaInternal) {
		bad("schema-registry: kafkastore bootstrap %q does not point at %s", bs, kafkaInternal)
	}
	if lvl := sr.Environment["SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL"]; !strings.EqualFold(lvl, "backward_transitive") {
		bad("schema-registry: compatibility %q, want backward_transitive", lvl)
	}
	checkHealth("schema-registry", sr, "/subjects", bad)
	needs("schema-registry", sr, "kafka", "service_healthy", bad)

	ui := c.Services["kafka-ui"]
	if !strings.HasPrefix(ui.Image, "ghcr.io/kafbat/kafka-ui:") {
		bad("kafka-ui: image %q is not ghcr.io/kafbat/kafka-ui", ui.Image)
	}
	if v := ui.Environment["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"]; v != kafkaInternal {
		bad("kafka-ui: bootstrap servers %q, want %s", v, kafkaInternal)
	}
	if v := ui.Environment["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"]; v != registryURL {
		bad("kafka-ui: schema registry %q, want %s", v, registryURL)
	}

	for _, n := range []string{"topology", "ingest", "process"} {
		s := c.Services[n]
		if s.Environment["PROVBUS_BROKERS"] != kafkaInternal {
			bad("%s: PROVBUS_BROKERS = %q, want %s", n, s.Environment["PROVBUS_BROKERS"], kafkaInternal)
		}
		if s.Environment["PROVBUS_REGISTRY"] != registryURL {
			bad("%s: PROVBUS_REGISTRY = %q, want %s", n, s.Environment["PROVBUS_REGISTRY"], registryURL)
		}
		needs(n, s, "kafka", "service_healthy", bad)
		needs(n, s, "schema-registry", "service_healthy", bad)
	}
	topo := c.Services["topology"]
	if strings.Join(topo.Command, " ") != "topology apply" {
		bad("topology: command %q, want topology apply", topo.Command)
	}
	if topo.Restart != "no" {
		bad("topology: restart %q, want \"no\" (one-shot)", topo.Restart)
	}
	ingest, process := c.Services["ingest"], c.Services["process"]
	if len(ingest.Command) == 0 || ingest.Command[0] != "ingest" {
		bad("ingest: command %q does not run provbus ingest", ingest.Command)
	}
	if len(process.Command) == 0 || process.Command[0] != "process" {
		bad("process: command %q does not run provbus process", process.Command)
	}
	if !strings.Contains(strings.Join(process.Command, " "), "--metrics 0.0.0.0:") {
		bad("process must serve /metrics beyond its container's loopback (--metrics 0.0.0.0:PORT), got %v", process.Command)
	}
	needs("ingest", ingest, "topology", "service_completed_successfully", bad)
	needs("process", process, "topology", "service_completed_successfully", bad)
	if process.Deploy.Replicas != 2 {
		bad("process: deploy.replicas = %d, want 2", process.Deploy.Replicas)
	}
	if !publishes(ingest, "8080") {
		bad("ingest: port 8080 is not published")
	}
	if l := ingest.Environment["PROVBUS_INGEST_LISTEN"]; !strings.HasPrefix(l, "0.0.0.0:8080") && !slicesContain(ingest.Command, "0.0.0.0:8080") {
		bad("ingest: listens on %q; the default 127.0.0.1 is unreachable from outside the container", l)
	}
	hasAuth := ingest.Environment["PROVBUS_INGEST_AUTH_PORTABILLING_PASSWORD"] != "" ||
		ingest.Environment["PROVBUS_INGEST_AUTH_TRANSATEL_SECRETS"] != "" || ingest.Environment["PROVBUS_INGEST_AUTH_JERASOFT_TOKEN"] != ""
	if !hasAuth && !slicesContain(ingest.Command, "--insecure-no-auth") {
		bad("ingest: no source credentials and no --insecure-no-auth: it would refuse to start")
	}
	checkHealth("ingest", ingest, "/healthz", bad)
	checkExposure(c, bad)
	return errs
}

// secretRef is an interpolation that must be set: ${NAME:?message}.
var secretRef = regexp.MustCompile(`^\$\{[A-Z0-9_]+:\?[^}]*\}$`)

// checkExposure holds the file to issue 12 #6: only the webhook port is
// published beyond the host's loopback; every secret is required from the
// environment, none has a default; kafka-ui is read-only behind a login.
func checkExposure(c composeFile, bad func(string, ...any)) {
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if name == "ingest" && strings.HasSuffix(p, ":8080") {
				continue
			}
			if !strings.HasPrefix(p, "127.0.0.1:") {
				bad("%s: port %q is published on every interface; bind it to 127.0.0.1 or keep it on the network", name, p)
			}
		}
		for k, v := range s.Environment {
			secret := strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN") || strings.HasSuffix(k, "_USER") || strings.HasSuffix(k, "_USERNAME") || strings.HasSuffix(k, "USER_NAME")
			if secret && !secretRef.MatchString(v) {
				bad("%s: %s = %q: a secret must be required from the environment as ${VAR:?…}, with no default", name, k, v)
			}
			if strings.Contains(v, ":-") || strings.Contains(v, "change-me") {
				bad("%s: %s = %q has a fallback value", name, k, v)
			}
		}
	}
	for _, n := range []string{"process", "ingest"} {
		for _, port := range []string{"9464", "9465"} {
			if publishes(c.Services[n], port) {
				bad("%s: metrics port %s is published; keep it on the compose network", n, port)
			}
		}
	}
	ui := c.Services["kafka-ui"].Environment
	if ui["KAFKA_CLUSTERS_0_READONLY"] != "true" {
		bad("kafka-ui: KAFKA_CLUSTERS_0_READONLY = %q, want \"true\"", ui["KAFKA_CLUSTERS_0_READONLY"])
	}
	if ui["AUTH_TYPE"] != "LOGIN_FORM" || !secretRef.MatchString(ui["SPRING_SECURITY_USER_PASSWORD"]) {
		bad("kafka-ui: no login (AUTH_TYPE %q, password %q)", ui["AUTH_TYPE"], ui["SPRING_SECURITY_USER_PASSWORD"])
	}
	ing := c.Services["ingest"].Environment
	for _, k := range []string{"PROVBUS_INGEST_AUTH_PORTABILLING_PASSWORD", "PROVBUS_INGEST_AUTH_TRANSATEL_SECRETS", "PROVBUS_INGEST_AUTH_JERASOFT_TOKEN"} {
		if !secretRef.MatchString(ing[k]) {
			bad("ingest: %s must be required from the environment, got %q", k, ing[k])
		}
	}
}

func checkImage(n string, s service, bad func(string, ...any)) {
	ref := s.Image
	if ref == "" {
		bad("%s: no image", n)
		return
	}
	if strings.Contains(ref, "$") {
		bad("%s: image %q is interpolated, not pinned", n, ref)
		return
	}
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon < slash || colon < 0 {
		bad("%s: image %q has no tag", n, ref)
		return
	}
	tag := ref[colon+1:]
	if strings.Contains(tag, "@") {
		tag, _, _ = strings.Cut(tag, "@")
	}
	if tag == "latest" {
		bad("%s: image %q uses latest", n, ref)
		return
	}
	// Images built from this repository (build:) carry a local tag; every
	// other one must name a version.
	if s.Build.Kind == 0 && !thirdPartyTag.MatchString(tag) {
		bad("%s: image %q is not pinned to a version", n, ref)
	}
}

func checkHealth(n string, s service, mustMention string, bad func(string, ...any)) {
	if s.Healthcheck == nil || s.Healthcheck.Disable || s.Healthcheck.Test == "" {
		bad("%s: no healthcheck", n)
		return
	}
	if t := string(s.Healthcheck.Test); !strings.Contains(t, mustMention) || strings.HasPrefix(t, "NONE") {
		bad("%s: healthcheck %q does not probe %s", n, t, mustMention)
	}
}

func needs(n string, s service, dep, condition string, bad func(string, ...any)) {
	if d, ok := s.DependsOn[dep]; !ok || d.Condition != condition {
		bad("%s: must depend on %s with condition %s", n, dep, condition)
	}
}

// publishes reports whether s publishes containerPort on the host.
func publishes(s service, containerPort string) bool {
	for _, p := range s.Ports {
		if strings.HasSuffix(p, ":"+containerPort) || strings.HasSuffix(p, ":"+containerPort+"/tcp") || p == containerPort {
			return true
		}
	}
	return false
}

func slicesContain(list []string, s string) bool {
	for _, v := range list {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

func readCompose(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCompose(t *testing.T) {
	c, err := parseCompose([]byte(readCompose(t)))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, err := range checkCompose(c) {
		t.Error(err)
	}
}
