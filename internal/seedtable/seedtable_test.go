package seedtable

import "testing"

func TestParseSeed000(t *testing.T) {
	handlers, rows, err := ReadFile("../../topology/testdata/seeds/000_092b1d25fc96baad.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(handlers) != 20 || len(rows) != 275 {
		t.Fatalf("%d handlers, %d rows; want 20, 275", len(handlers), len(rows))
	}
	if r := rows[6]; r.Handler != "AricentHSS" || r.EventType != "Account/ServiceAttribute/Changed" || !r.Inherited {
		t.Fatalf("row 7 = %+v", r)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, bad := range []string{
		"X handler events\nName |\nDescription |\nInherited from Customer |\n---|---|---|\nAccount/New\n",
		"X handler events\nName |\nDescription |\nInherited from Customer |\n---|---|---|\nAccount/New |\nA new account. |\nmaybe |\n",
		"X handler events\nName |\nDescription |\nInherited from Customer |\n---|---|---|\nAccount/New |\nno end",
	} {
		if _, _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a malformed table", bad)
		}
	}
}
