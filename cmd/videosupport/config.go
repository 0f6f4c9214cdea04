package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"videosupport/store"
	"videosupport/store/postgres"
	"videosupport/store/sqlite"
)

// config is everything the server can be told at start. Every flag has an
// environment variable; a flag given on the command line wins.
type config struct {
	Listen     string
	PublicURL  string
	DataDir    string
	DB         string
	UDPPort    int
	UDPPortMin int
	UDPPortMax int
	NATIPs     string
	Loopback   bool
	LogLevel   string
	MaxStreams int
	MaxPeople  int
	Debug      bool
}

// configVars lists each setting once: flag, environment variable,
// default and help. README's configuration table is made from the same
// words.
func (c *config) vars() []settingVar {
	return []settingVar{
		{&c.Listen, "listen", "VS_LISTEN", ":8080", "HTTP address to listen on"},
		{&c.PublicURL, "public-url", "VS_PUBLIC_URL", "http://localhost:8080", "URL people use to reach the server, for links"},
		{&c.DataDir, "data-dir", "VS_DATA_DIR", "./data", "directory for data kept on disk"},
		{&c.DB, "db", "VS_DB", "", "database: a postgres:// URL, or empty for SQLite in the data directory"},
		{&c.UDPPort, "udp-port", "VS_UDP_PORT", 0, "one UDP port for all media (0: use the port range)"},
		{&c.UDPPortMin, "udp-port-min", "VS_UDP_PORT_MIN", 0, "lowest UDP port for media when -udp-port is 0 (0: any)"},
		{&c.UDPPortMax, "udp-port-max", "VS_UDP_PORT_MAX", 0, "highest UDP port for media when -udp-port is 0 (0: any)"},
		{&c.NATIPs, "nat-ip", "VS_NAT_1TO1_IP", "", "public IP(s), comma-separated, announced for media behind a 1:1 NAT"},
		{&c.Loopback, "loopback", "VS_LOOPBACK", true, "offer 127.0.0.1 for media (browser and server on one machine)"},
		{&c.LogLevel, "log-level", "VS_LOG_LEVEL", "info", "debug, info, warn or error"},
		{&c.MaxStreams, "max-streams", "VS_MAX_STREAMS", 0, "capacity in forwarded streams; past it joins get server_busy (0: no limit)"},
		{&c.MaxPeople, "max-participants", "VS_MAX_PARTICIPANTS", 16, "people in one call at most"},
		{&c.Debug, "debug", "VS_DEBUG", false, "serve /debug/pprof and /debug/vars for profiling (never on a public address)"},
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
	if err := bindFlags(fs, c.vars(), getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.validate()
}

// bindFlags defines each setting as a flag whose default comes from its
// environment variable, if set.
func bindFlags(fs *flag.FlagSet, vars []settingVar, getenv func(string) string) error {
	for _, v := range vars {
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
					return fmt.Errorf("%s=%q is not a number", v.env, env)
				}
				def = n
			}
			fs.IntVar(p, v.flag, def, help)
		case *bool:
			def := v.def.(bool)
			if env != "" {
				b, err := strconv.ParseBool(env)
				if err != nil {
					return fmt.Errorf("%s=%q is not true or false", v.env, env)
				}
				def = b
			}
			fs.BoolVar(p, v.flag, def, help)
		}
	}
	return nil
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
	if c.MaxStreams < 0 {
		return fmt.Errorf("-max-streams %d is negative", c.MaxStreams)
	}
	if c.MaxPeople < 2 {
		return fmt.Errorf("-max-participants %d: a call needs at least 2", c.MaxPeople)
	}
	if c.UDPPortMin > c.UDPPortMax && c.UDPPortMax != 0 {
		return fmt.Errorf("-udp-port-min %d is above -udp-port-max %d", c.UDPPortMin, c.UDPPortMax)
	}
	if _, err := c.logLevel(); err != nil {
		return err
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return fmt.Errorf("-db must be a postgres:// URL (or empty for SQLite in -data-dir)")
	}
	return nil
}

// openStore opens the configured database: PostgreSQL when -db names
// one, otherwise SQLite in the data directory.
func (c *config) openStore(ctx context.Context) (store.Store, error) {
	if c.DB != "" {
		return postgres.Open(ctx, c.DB)
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, "videosupport.db"))
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
