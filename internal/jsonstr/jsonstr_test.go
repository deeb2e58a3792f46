package jsonstr

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// like is what encoding/json writes for s, HTML-escaped or not.
func like(t testing.TB, s string, html bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func check(t testing.TB, s string) {
	for _, html := range []bool{true, false} {
		want := like(t, s, html)
		var got, gotBytes []byte
		if html {
			got, gotBytes = Append([]byte("x"), s), Append([]byte("x"), []byte(s))
		} else {
			got, gotBytes = AppendNoHTML([]byte("x"), s), AppendNoHTML([]byte("x"), []byte(s))
		}
		if !bytes.Equal(got[1:], want) || !bytes.Equal(gotBytes[1:], want) {
			t.Fatalf("%q (html %v):\n got %s / %s\nwant %s", s, html, got[1:], gotBytes[1:], want)
		}
	}
}

// TestLikeEncodingJSON: every byte value alone, and random strings of the
// pieces JSON treats apart.
func TestLikeEncodingJSON(t *testing.T) {
	for c := range 256 {
		check(t, string([]byte{byte(c)}))
	}
	pieces := []string{"a", "Z", " ", `"`, `\`, "/", "<", ">", "&", "\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", "\x7f",
		"é", "€", "\U0001F600", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xc3", "\xed\xa0\x80"}
	rnd := rand.New(rand.NewPCG(7, 7))
	for range 5000 {
		var s strings.Builder
		for range rnd.IntN(12) {
			s.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		check(t, s.String())
	}
}

func FuzzLikeEncodingJSON(f *testing.F) {
	f.Add("a<b>&\u2028\xff\b")
	f.Fuzz(func(t *testing.T, s string) { check(t, s) })
}
