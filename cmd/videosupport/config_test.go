package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"VS_LISTEN": "127.0.0.1:9000", "VS_UDP_PORT": "50000", "VS_LOOPBACK": "false"}
	getenv := func(k string) string { return env[k] }

	c, err := parseConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.UDPPort != 50000 || c.Loopback || c.PublicURL != "http://localhost:8080" {
		t.Errorf("from environment: %+v", c)
	}
	c, err = parseConfig([]string{"-listen", ":7000", "-nat-ip", " 203.0.113.7, 203.0.113.8 "}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":7000" {
		t.Errorf("a flag must win over the environment: listen %q", c.Listen)
	}
	if ips := c.natIPs(); len(ips) != 2 || ips[0] != "203.0.113.7" {
		t.Errorf("nat ips %q", ips)
	}

	for _, bad := range [][]string{
		{"-listen", "nowhere"},
		{"-public-url", "ftp://x"},
		{"-udp-port", "70000"},
		{"-udp-port-min", "6000", "-udp-port-max", "5000"},
		{"-log-level", "loud"},
		{"-recording-key-previous", "c2hvcnQ="},
		{"-no-such-flag"},
	} {
		if _, err := parseConfig(bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseConfig(nil, func(k string) string {
		if k == "VS_UDP_PORT" {
			return "fifty"
		}
		return ""
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "VS_UDP_PORT") {
		t.Errorf("a bad environment value must name its variable, got %v", err)
	}
}

// TestREADMEConfigTable keeps README's table true: every setting is
// there with its flag, variable and default.
func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var c config
	for _, v := range c.vars() {
		row := "| `-" + v.flag + "` | `" + v.env + "` |"
		if !strings.Contains(readme, row) {
			t.Errorf("README's configuration table lacks %s", row)
		}
	}
}
