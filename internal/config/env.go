package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// shortEnv are the design's short names for the most used settings.
var shortEnv = map[string]string{
	"PROVBUS_BROKERS":  "PROVBUS_KAFKA_BROKERS",
	"PROVBUS_REGISTRY": "PROVBUS_REGISTRY_URL",
}

// applyEnv overlays PROVBUS_<YAML_PATH> variables on cfg. Lists are comma
// separated.
func applyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	for short, long := range shortEnv {
		if v, ok := lookup(short); ok {
			if _, set := lookup(long); !set {
				if err := setPath(cfg, long, v); err != nil {
					return err
				}
			}
		}
	}
	var err error
	walk(reflect.ValueOf(cfg).Elem(), "PROVBUS", func(name string, f reflect.Value) {
		if v, ok := lookup(name); ok && err == nil {
			if e := setValue(f, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return applyDeliverEnv(cfg, lookup)
}

// EnvNames lists every environment variable Load reads, for the docs.
func EnvNames() []string {
	var names []string
	var cfg Config
	walk(reflect.ValueOf(&cfg).Elem(), "PROVBUS", func(name string, _ reflect.Value) { names = append(names, name) })
	return names
}

func setPath(cfg *Config, name, v string) error {
	var err error
	walk(reflect.ValueOf(cfg).Elem(), "PROVBUS", func(n string, f reflect.Value) {
		if n == name {
			if e := setValue(f, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

func walk(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		f := v.Field(i)
		if f.Kind() == reflect.Map {
			continue // keyed by name: see applyDeliverEnv
		}
		if f.Kind() == reflect.Struct {
			walk(f, name, fn)
			continue
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.String {
			continue // lists of objects (instances) are set in the file only
		}
		fn(name, f)
	}
}

var (
	durationType  = reflect.TypeOf(Duration(0))
	durationsType = reflect.TypeOf([]Duration(nil))
)

func setValue(f reflect.Value, v string) error {
	if f.Type() == durationType {
		d, err := ParseDuration(v)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(d))
		return nil
	}
	if f.Type() == durationsType {
		var ds []Duration
		for _, p := range strings.Split(v, ",") {
			d, err := ParseDuration(strings.TrimSpace(p))
			if err != nil {
				return err
			}
			ds = append(ds, d)
		}
		f.Set(reflect.ValueOf(ds))
		return nil
	}
	switch f.Kind() {
	case reflect.Pointer: // an optional value whose absence means a default
		p := reflect.New(f.Type().Elem())
		if err := setValue(p.Elem(), v); err != nil {
			return err
		}
		f.Set(p)
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", v)
		}
		f.SetBool(b)
	case reflect.Float64:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		f.SetFloat(n)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		f.SetInt(n)
	case reflect.Slice:
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}

// Duration is a time.Duration that also accepts a day suffix ("7d").
type Duration time.Duration

// ParseDuration parses Go durations plus whole days: "7d", "36h", "90s".
func ParseDuration(s string) (Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML accepts "7d" as well as Go duration strings.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
