package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "XPUSHD_"

// envName is the environment variable for a flag: XPUSHD_ and the flag's
// name in upper case, with - as _ (--tls-cert: XPUSHD_TLS_CERT).
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// layers fills every flag of fs that was not set on the command line
// (fs.Parse must have run) from, in this order: the environment, then the
// values of a config file (keyed by flag name), leaving the default for
// the rest. envOK says which flags the environment may set (nil: all).
// It works on the FlagSet alone, so a new flag gets its environment
// variable and config key without further code.
func layers(fs *flag.FlagSet, lookupEnv func(string) (string, bool), envOK func(name string) bool, file map[string]string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if envOK == nil || envOK(f.Name) {
			if v, ok := lookupEnv(envName(f.Name)); ok {
				if err := fs.Set(f.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("invalid value %q for environment variable %s: %w", v, envName(f.Name), err))
				}
				return
			}
		}
		if v, ok := file[f.Name]; ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q for key %s in the config file: %w", v, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readConfigFile reads a TOML file whose keys are the names of fs's flags
// (not those in skip) and returns its values as flag strings. An unknown
// key, a table or a value of an odd type is an error.
func readConfigFile(path string, fs *flag.FlagSet, skip ...string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the config file: %w", err)
	}
	var m map[string]any
	if _, err := toml.Decode(string(raw), &m); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	var known []string
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(skip, f.Name) {
			known = append(known, f.Name)
		}
	})
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, len(m))
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("config file %s: unknown key %q; the keys are the flag names: %s", path, k, strings.Join(known, ", "))
		}
		s, err := tomlString(m[k])
		if err != nil {
			return nil, fmt.Errorf("config file %s: key %s: %w", path, k, err)
		}
		out[k] = s
	}
	return out, nil
}

// tomlString turns a TOML value into what the flag would get on the
// command line; an array becomes a comma-separated list.
func tomlString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := tomlString(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested {
				return "", errors.New("nested arrays are not flag values")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("a table is not a flag value; the file is flat, one key per flag")
	}
	return "", fmt.Errorf("a %T is not a flag value; write it as a string", v)
}
