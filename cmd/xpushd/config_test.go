package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseServeWith(t *testing.T, env map[string]string, args ...string) (serveConfig, error) {
	t.Helper()
	c := newCLI(t.Context(), nil, io.Discard, io.Discard)
	c.lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return c.parseServe(fs, args)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "xpushd.toml", `
domain = "file.example"
http = "127.0.0.1:9003"
c2s = "127.0.0.1:9004"
registration = "closed"
register-rate = 3
allow-plain = true
log-level = "warn"
`)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want func(serveConfig) bool
	}{
		{"defaults", nil, nil, func(c serveConfig) bool {
			return c.Data == DefaultData && c.C2S == DefaultC2S && c.HTTP == DefaultHTTP &&
				c.Domain == DefaultDomain && c.Registration == "open" && c.RegisterRate == DefaultRegisterRate &&
				!c.AllowPlain && c.LogLevel == "info"
		}},
		{"file over defaults", nil, []string{"--config", file}, func(c serveConfig) bool {
			return c.Domain == "file.example" && c.HTTP == "127.0.0.1:9003" && c.Registration == "closed" &&
				c.RegisterRate == 3 && c.AllowPlain && c.LogLevel == "warn" && c.Data == DefaultData
		}},
		{
			"env over file",
			map[string]string{"XPUSHD_DOMAIN": "env.example", "XPUSHD_REGISTER_RATE": "7", "XPUSHD_ALLOW_PLAIN": "false"},
			[]string{"--config", file},
			func(c serveConfig) bool {
				return c.Domain == "env.example" && c.RegisterRate == 7 && !c.AllowPlain && c.HTTP == "127.0.0.1:9003"
			},
		},
		{
			"flag over env over file",
			map[string]string{"XPUSHD_DOMAIN": "env.example", "XPUSHD_HTTP": "127.0.0.1:9002"},
			[]string{"--config", file, "--domain", "flag.example"},
			func(c serveConfig) bool {
				return c.Domain == "flag.example" && c.HTTP == "127.0.0.1:9002" && c.C2S == "127.0.0.1:9004"
			},
		},
		{"config file from the environment", map[string]string{"XPUSHD_CONFIG": file}, nil, func(c serveConfig) bool {
			return c.Domain == "file.example"
		}},
		{
			"flag set to its default still wins",
			map[string]string{"XPUSHD_REGISTRATION": "token"},
			[]string{"--registration", "open"},
			func(c serveConfig) bool { return c.Registration == "open" },
		},
		{"env for every flag, dashes as underscores", map[string]string{
			"XPUSHD_DATA": "/srv/x", "XPUSHD_C2S_TLS": "127.0.0.1:5223", "XPUSHD_LEGACY_DIGEST": "1", "XPUSHD_LOG_LEVEL": "debug",
		}, nil, func(c serveConfig) bool {
			return c.Data == "/srv/x" && c.C2STLS == "127.0.0.1:5223" && c.LegacyDigest && c.LogLevel == "debug"
		}},
		{
			"empty env value is a value",
			map[string]string{"XPUSHD_C2S": "", "XPUSHD_C2S_TLS": "127.0.0.1:5223"},
			nil,
			func(c serveConfig) bool { return c.C2S == "" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseServeWith(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(cfg) {
				t.Errorf("got %+v", cfg)
			}
		})
	}
}

// TestEveryFlagHasAnEnvironmentVariable checks the names against the
// contract's examples and that no flag is missed by the layering.
func TestEveryFlagHasAnEnvironmentVariable(t *testing.T) {
	for flagName, env := range map[string]string{
		"data": "XPUSHD_DATA", "c2s": "XPUSHD_C2S", "http": "XPUSHD_HTTP", "domain": "XPUSHD_DOMAIN",
		"registration": "XPUSHD_REGISTRATION", "tls-cert": "XPUSHD_TLS_CERT", "register-rate": "XPUSHD_REGISTER_RATE",
	} {
		if got := envName(flagName); got != env {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, env)
		}
	}
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.flags(fs)
	seen := map[string]bool{}
	env := func(k string) (string, bool) { seen[k] = true; return "", false }
	if err := layers(fs, env, nil, nil); err != nil {
		t.Fatal(err)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !seen[envName(f.Name)] {
			t.Errorf("flag %s: environment not consulted", f.Name)
		}
	})
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"unknown key", "domian = \"x\"\n", `unknown key "domian"`},
		{"config in config", "config = \"other.toml\"\n", `unknown key "config"`},
		{"table", "[server]\ndomain = \"x\"\n", `unknown key "server"`},
		{"bad toml", "domain = \n", "config file"},
		{"bad value", "register-rate = \"lots\"\n", `invalid value "lots" for key register-rate`},
		{"bad type", "domain = 2024-01-01T00:00:00Z\n", "write it as a string"},
		{"table value", "domain = { a = 1 }\n", "a table is not a flag value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "xpushd.toml", tc.content)
			r := xpushd("serve", "--config", p)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit 2 and %q\n%v", tc.want, r)
			}
		})
	}
	r := xpushd("serve", "--config", filepath.Join(t.TempDir(), "none.toml"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "cannot read the config file") {
		t.Errorf("missing file: %v", r)
	}
	r = invocation{env: map[string]string{"XPUSHD_ALLOW_PLAIN": "sometimes"}}.run("serve")
	if r.code != exitUsage || !strings.Contains(r.stderr, "XPUSHD_ALLOW_PLAIN") {
		t.Errorf("bad environment value: %v", r)
	}
	// Arrays become comma-separated values.
	if s, err := tomlString([]any{"a", int64(2), true}); err != nil || s != "a,2,true" {
		t.Errorf("tomlString(array) = %q, %v", s, err)
	}
	if _, err := tomlString([]any{[]any{"x"}}); err == nil {
		t.Error("nested array accepted")
	}
	if s, _ := tomlString(1.5); s != "1.5" {
		t.Errorf("tomlString(1.5) = %q", s)
	}
}

func TestAdminCommandsTakeOnlyDataFromTheEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	inv := invocation{env: map[string]string{"XPUSHD_DATA": dir, "XPUSHD_NAME": "mallory"}}
	if r := inv.run("user", "add", "--name", "bob"); r.code != 0 {
		t.Fatal(r)
	}
	// XPUSHD_NAME must not stand in for --name.
	if r := inv.run("user", "delete"); r.code != exitUsage {
		t.Errorf("user delete without --name: %v", r)
	}
	if r := inv.run("user", "list"); !strings.Contains(r.stdout, "bob") {
		t.Errorf("user list: %v", r)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5222": true, "127.3.2.1:1": true, "[::1]:5222": true, "localhost:5222": true, "LOCALHOST:1": true,
		":5222": false, "0.0.0.0:5222": false, "[::]:5222": false, "192.168.1.2:5222": false,
		"example.org:5222": false, "garbage": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestRefusePlainOffLoopback(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:5222"} {
		r := xpushd("serve", "--data", data, "--no-tls", "--c2s", addr, "--http", "127.0.0.1:0")
		if r.code != exitUsage || !strings.Contains(r.stderr, "refusing to serve XMPP clients on "+addr+" without TLS") {
			t.Errorf("%s: %v", addr, r)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("the refused start created the data directory")
	}
	// With --allow-plain the configuration is accepted.
	if _, err := parseServeWith(t, nil, "--no-tls", "--allow-plain", "--c2s", "0.0.0.0:5222"); err != nil {
		t.Errorf("--allow-plain: %v", err)
	}
	// With TLS (the default) a public c2s address is fine: clients must
	// use STARTTLS there.
	if _, err := parseServeWith(t, nil, "--c2s", "0.0.0.0:5222"); err != nil {
		t.Errorf("TLS on a public address: %v", err)
	}
}
