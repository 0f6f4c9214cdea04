package signaling

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseClientMessage: any bytes a client sends give a message or a
// wire error with a known code, never a panic; an accepted message has a
// known type and survives a round trip.
func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","room":"7c1c5d7e-4f1e-4d9a-9c67-3a4a3c2a9b10","name":"Amira"}`,
		`{"type":"offer","pc":"publish","sdp":"v=0\r\n"}`,
		`{"type":"answer","pc":"subscribe","sdp":"v=0\r\n"}`,
		`{"type":"candidate","pc":"publish","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","kind":"video","muted":true}`,
		`{"type":"leave"}`,
		`{"type":"join","room":7}`,
		`{"type":"mute","kind":"audio"}`,
		`[]`, `null`, `"join"`, `{`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{CodeBadMessage: true, CodeUnknownType: true, CodeTooLarge: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseClientMessage(data)
		if err != nil {
			var we *wireError
			if !errors.As(err, &we) || !codes[we.Code] || we.Message == "" {
				t.Fatalf("error %v is not a wire error with a known code", err)
			}
			return
		}
		switch m.Type {
		case TypeJoin, TypeOffer, TypeAnswer, TypeCandidate, TypeMute, TypeLeave:
		default:
			t.Fatalf("accepted unknown type %q", m.Type)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal accepted message: %v", err)
		}
		if _, err := ParseClientMessage(b); err != nil {
			t.Fatalf("round trip of %s refused: %v", b, err)
		}
		if !utf8.ValidString(m.Name) || !utf8.ValidString(m.SDP) {
			t.Fatalf("decoded strings are not valid UTF-8")
		}
	})
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"  Amira  ":                 "Amira",
		"Dr\x00 Chen\n":             "Dr Chen",
		"陈医生":                       "陈医生",
		"أمينة":                     "أمينة",
		"\xff\xfeBob":               "Bob",
		strings.Repeat("é", 100):    strings.Repeat("é", maxNameRunes),
		"<script>alert(1)</script>": "<script>alert(1)</script>", // pages show names as text
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
