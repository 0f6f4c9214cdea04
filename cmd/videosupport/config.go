package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// config is everything the server can be told at start. Every flag has an
// environment variable; a flag given on the command line wins.
type config struct {
	Listen     string
	PublicURL  string
	DataDir    string
	UDPPort    int
	UDPPortMin int
	UDPPortMax int
	NATIPs     string
	Loopback   bool
	LogLevel   string
}

// configVars lists each setting once: flag, environment variable,
// default and help. README's configuration table is made from the same
// words.
func (c *config) vars() []settingVar {
	return []settingVar{
		{&c.Listen, "listen", "VS_LISTEN", ":8080", "HTTP address to listen on"},
		{&c.PublicURL, "public-url", "VS_PUBLIC_URL", "http://localhost:8080", "URL people use to reach the server, for links"},
		{&c.DataDir, "data-dir", "VS_DATA_DIR", "./data", "directory for data kept on disk"},
		{&c.UDPPort, "udp-port", "VS_UDP_PORT", 0, "one UDP port for all media (0: use the port range)"},
		{&c.UDPPortMin, "udp-port-min", "VS_UDP_PORT_MIN", 0, "lowest UDP port for media when -udp-port is 0 (0: any)"},
		{&c.UDPPortMax, "udp-port-max", "VS_UDP_PORT_MAX", 0, "highest UDP port for media when -udp-port is 0 (0: any)"},
		{&c.NATIPs, "nat-ip", "VS_NAT_1TO1_IP", "", "public IP(s), comma-separated, announced for media behind a 1:1 NAT"},
		{&c.Loopback, "loopback", "VS_LOOPBACK", true, "offer 127.0.0.1 for media (browser and server on one machine)"},
		{&c.LogLevel, "log-level", "VS_LOG_LEVEL", "info", "debug, info, warn or error"},
	}
}

type settingVar struct {
	ptr  any
	flag string
	env  string
	def  any
	help string
}

// parseConfig reads flags, falling back to environment variables, then to
// defaults.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("videosupport", flag.ContinueOnError)
	fs.SetOutput(out)
	for _, v := range c.vars() {
		help := fmt.Sprintf("%s (env %s)", v.help, v.env)
		env := getenv(v.env)
		switch p := v.ptr.(type) {
		case *string:
			def := v.def.(string)
			if env != "" {
				def = env
			}
			fs.StringVar(p, v.flag, def, help)
		case *int:
			def := v.def.(int)
			if env != "" {
				n, err := strconv.Atoi(env)
				if err != nil {
					return c, fmt.Errorf("%s=%q is not a number", v.env, env)
				}
				def = n
			}
			fs.IntVar(p, v.flag, def, help)
		case *bool:
			def := v.def.(bool)
			if env != "" {
				b, err := strconv.ParseBool(env)
				if err != nil {
					return c, fmt.Errorf("%s=%q is not true or false", v.env, env)
				}
				def = b
			}
			fs.BoolVar(p, v.flag, def, help)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *config) validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("-listen %q: %w", c.Listen, err)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-public-url %q must be an http or https URL", c.PublicURL)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"udp-port", c.UDPPort}, {"udp-port-min", c.UDPPortMin}, {"udp-port-max", c.UDPPortMax}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("-%s %d is not a port", p.name, p.v)
		}
	}
	if c.UDPPortMin > c.UDPPortMax && c.UDPPortMax != 0 {
		return fmt.Errorf("-udp-port-min %d is above -udp-port-max %d", c.UDPPortMin, c.UDPPortMax)
	}
	if _, err := c.logLevel(); err != nil {
		return err
	}
	return nil
}

func (c *config) natIPs() []string {
	var ips []string
	for _, s := range strings.Split(c.NATIPs, ",") {
		if s = strings.TrimSpace(s); s != "" {
			ips = append(ips, s)
		}
	}
	return ips
}

func (c *config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

func defaultGetenv(k string) string { return os.Getenv(k) }
