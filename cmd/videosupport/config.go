package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
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
	"time"

	"videosupport/blob/s3"
	"videosupport/store/postgres"
	"videosupport/store/sqlite"
	"videosupport/store/sqlstore"
)

// config is everything the server can be told at start. Every flag has an
// environment variable; a flag given on the command line wins.
type config struct {
	Listen        string
	PublicURL     string
	DataDir       string
	DB            string
	Blob          string
	UDPPort       int
	UDPPortMin    int
	UDPPortMax    int
	NATIPs        string
	Loopback      bool
	LogLevel      string
	MaxStreams    int
	MaxPeople     int
	Debug         bool
	SecretKey     string
	LinkTTL       time.Duration
	CallbackAfter time.Duration
	WaitLimit     time.Duration

	RecordingKey       string
	PreviousKeys       string
	RetentionDays      int
	CustomerRecordings bool

	// s3 is the bucket -blob names, credentials filled in (blobOptions).
	s3 *s3.Options
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
		{&c.Blob, "blob", "VS_BLOB", "", "where recordings are kept: empty for the data directory, or an S3 bucket as s3://host[:port]/bucket[?secure=false&region=R] with credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or s3://ACCESS:SECRET@host/...)"},
		{&c.UDPPort, "udp-port", "VS_UDP_PORT", 0, "one UDP port for all media (0: use the port range)"},
		{&c.UDPPortMin, "udp-port-min", "VS_UDP_PORT_MIN", 0, "lowest UDP port for media when -udp-port is 0 (0: any)"},
		{&c.UDPPortMax, "udp-port-max", "VS_UDP_PORT_MAX", 0, "highest UDP port for media when -udp-port is 0 (0: any)"},
		{&c.NATIPs, "nat-ip", "VS_NAT_1TO1_IP", "", "public IP(s), comma-separated, announced for media behind a 1:1 NAT"},
		{&c.Loopback, "loopback", "VS_LOOPBACK", true, "offer 127.0.0.1 for media (browser and server on one machine)"},
		{&c.LogLevel, "log-level", "VS_LOG_LEVEL", "info", "debug, info, warn or error"},
		{&c.MaxStreams, "max-streams", "VS_MAX_STREAMS", 0, "capacity in forwarded streams; past it joins get server_busy (0: no limit)"},
		{&c.MaxPeople, "max-participants", "VS_MAX_PARTICIPANTS", 16, "people in one call at most"},
		{&c.Debug, "debug", "VS_DEBUG", false, "serve /debug/pprof and /debug/vars for profiling (never on a public address)"},
		{&c.SecretKey, "secret-key", "VS_SECRET_KEY", "", "base64 key (32+ bytes) that signs join links; empty: made once and kept in the data directory. Every node of a cluster needs the same"},
		{&c.LinkTTL, "link-ttl", "VS_LINK_TTL", 24 * time.Hour, "how long a join link can be opened"},
		{&c.CallbackAfter, "callback-after", "VS_CALLBACK_AFTER", 3 * time.Minute, "wait in the video queue before a callback is offered"},
		{&c.WaitLimit, "wait-limit", "VS_WAIT_LIMIT", 5 * time.Minute, "wait in a waiting room before the page offers to leave a message"},
		{&c.RecordingKey, "recording-key", "VS_RECORDING_KEY", "", "base64 master key (32 bytes) that wraps each conversation's recording key; empty: made once and kept in the data directory (keep it elsewhere in production)"},
		{&c.PreviousKeys, "recording-key-previous", "VS_RECORDING_KEY_PREVIOUS", "", "base64 master keys, comma-separated, being retired: at start every recording key still wrapped with one is wrapped with -recording-key instead (the log says when they are no longer needed)"},
		{&c.RetentionDays, "retention-days", "VS_RETENTION_DAYS", 0, "delete recordings this many days after the call and destroy their keys (0: keep them)"},
		{&c.CustomerRecordings, "customer-recordings", "VS_CUSTOMER_RECORDINGS", false, "let customers play their own conversation's recordings"},
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
	if err := c.validate(); err != nil {
		return c, err
	}
	return c, c.blobOptions(getenv)
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
		case *time.Duration:
			def := v.def.(time.Duration)
			if env != "" {
				d, err := time.ParseDuration(env)
				if err != nil {
					return fmt.Errorf("%s=%q is not a duration like 90s or 5m", v.env, env)
				}
				def = d
			}
			fs.DurationVar(p, v.flag, def, help)
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
	if c.RetentionDays < 0 {
		return fmt.Errorf("-retention-days %d is negative", c.RetentionDays)
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
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"link-ttl", c.LinkTTL}, {"callback-after", c.CallbackAfter}, {"wait-limit", c.WaitLimit}} {
		if d.v <= 0 {
			return fmt.Errorf("-%s %s must be positive", d.name, d.v)
		}
	}
	if _, err := c.logLevel(); err != nil {
		return err
	}
	if _, err := c.previousKeys(); err != nil {
		return err
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return fmt.Errorf("-db must be a postgres:// URL (or empty for SQLite in -data-dir)")
	}
	return nil
}

// openStore opens the configured database: PostgreSQL when -db names
// one, otherwise SQLite in the data directory.
func (c *config) openStore(ctx context.Context) (*sqlstore.Store, error) {
	if c.DB != "" {
		return postgres.Open(ctx, c.DB)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
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

// secret returns the server secret: -secret-key, or the one kept in the
// data directory, made on first start.
func (c *config) secret() ([]byte, error) {
	if c.SecretKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.SecretKey)
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("-secret-key must be base64 of at least 32 bytes")
		}
		return k, nil
	}
	return keyFile(filepath.Join(c.DataDir, "secret.key"), 32)
}

// keyFile reads a base64 key of size bytes from path, making it on first
// use (mode 0600).
func keyFile(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < size {
			return nil, fmt.Errorf("%s is not base64 of %d bytes", path, size)
		}
		return k[:size], nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key: %w", err)
	}
	k := make([]byte, size)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	// O_EXCL: two servers starting on one data directory keep one key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return keyFile(path, size)
	}
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("key: %w", err)
	}
	return k, f.Close()
}

func defaultGetenv(k string) string { return os.Getenv(k) }
