package config

import (
	"strings"
	"testing"
	"time"
)

func TestDeliverFileEnvAndDefaults(t *testing.T) {
	p := writeFile(t, `
deliver:
  handlers:
    Huawei::PCRF:
      url: https://pcrf-connector.internal/events
      on_permanent_failure: block
      retry:
        long: [30m, 6h]
`)
	t.Setenv("PROVBUS_DELIVER_HANDLERS_HUAWEI_PCRF_SIGNING_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("PROVBUS_DELIVER_HANDLERS_HUAWEI_PCRF_RETRY_SCHEDULE_ATTEMPTS", "20")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Deliver.Handlers["Huawei::PCRF"].WithDefaults()
	if h.SigningSecret == "" || h.Retry.Schedule.Attempts != 20 || h.OnPermanentFailure != OnPermanentBlock {
		t.Errorf("file and environment not both read: %+v", h)
	}
	if len(h.Retry.Long) != 2 || h.Retry.Long[1].Std() != 6*time.Hour {
		t.Errorf("retry.long = %v", h.Retry.Long)
	}
	if h.Timeout.Std() != 10*time.Second || h.MaxInFlight != 16 || h.Retry.MaxAge.Std() != 30*24*time.Hour || h.Rate != 0 {
		t.Errorf("defaults not applied: %+v", h)
	}
}

func TestDeliverValidationNamesTheKey(t *testing.T) {
	for body, want := range map[string]string{
		"deliver: {handlers: {IPTV: {url: ftp://x}}}":                                "deliver.handlers.IPTV.url",
		"deliver: {handlers: {IPTV: {url: 'http://u:p@x'}}}":                         "deliver.handlers.IPTV.url",
		"deliver: {handlers: {IPTV: {url: 'http://x', on_permanent_failure: drop}}}": "deliver.handlers.IPTV.on_permanent_failure",
		"deliver: {handlers: {IPTV: {url: 'http://x', signing_secret: plain}}}":      "deliver.handlers.IPTV.signing_secret",
		"deliver: {handlers: {IPTV: {url: 'http://x', retry: {long: [1h, 0s]}}}}":    "deliver.handlers.IPTV.retry.long[1]",
		"deliver: {handlers: {IPTV: {url: 'http://x', max_in_flight: 100000}}}":      "deliver.handlers.IPTV.max_in_flight",
	} {
		_, err := Load(writeFile(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to name %s", body, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "u:p@") {
			t.Errorf("%s: the error repeats the URL's credentials: %v", body, err)
		}
	}
}

func TestDeliverEnvName(t *testing.T) {
	for in, want := range map[string]string{"Huawei::PCRF": "PROVBUS_DELIVER_HANDLERS_HUAWEI_PCRF", "IPTV": "PROVBUS_DELIVER_HANDLERS_IPTV", "ZXUN::HSS": "PROVBUS_DELIVER_HANDLERS_ZXUN_HSS"} {
		if got := DeliverEnvName(in); got != want {
			t.Errorf("DeliverEnvName(%q) = %s", in, got)
		}
	}
}

// include_state defaults to true; the file or the environment turns it off.
func TestDeliverIncludeState(t *testing.T) {
	p := writeFile(t, "deliver: {handlers: {IPTV: {url: 'http://x'}, Titan::HSS: {url: 'http://y', include_state: false}}}")
	t.Setenv("PROVBUS_DELIVER_HANDLERS_IPTV_INCLUDE_STATE", "false")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if on := *cfg.Deliver.Handlers["IPTV"].WithDefaults().IncludeState; on {
		t.Error("IPTV: the environment did not turn include_state off")
	}
	if on := *cfg.Deliver.Handlers["Titan::HSS"].WithDefaults().IncludeState; on {
		t.Error("Titan::HSS: the file did not turn include_state off")
	}
	if on := (DeliverHandler{}).WithDefaults().IncludeState; on == nil || !*on {
		t.Error("include_state does not default to true")
	}
}
