package chat

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParseClientMessage: any bytes give a message or an error, never a
// panic; what is accepted has a type, valid text, and survives a round
// trip.
func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","conversation":"c-1","token":"vsc_c-1.x","after":3}`,
		`{"type":"hello","console":true}`,
		`{"type":"send","body":"<script>alert(1)</script>","clientId":"k"}`,
		`{"type":"read","conversation":"c-1","seq":12}`,
		`{"type":"send","body":7}`, `{"after":-1,"type":"hello"}`, "\xff", `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseClientMessage(data)
		if err != nil {
			return
		}
		if m.Type == "" || !utf8.ValidString(m.Body) || m.After < 0 {
			t.Fatalf("accepted %+v", m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseClientMessage(b); err != nil {
			t.Fatalf("round trip of %s refused: %v", b, err)
		}
	})
}
