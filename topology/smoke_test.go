package topology

import "testing"

func TestSmoke(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(len(c.EventTypes()), len(c.Handlers()), len(c.Rows()))
	for _, h := range c.Subscribers("account/status/closed", OriginInherited) {
		t.Log(h.Name, h.Topic)
	}
}
