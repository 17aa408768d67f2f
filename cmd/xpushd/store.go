package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/sqlite"
)

// Data directory layout.
const (
	// DefaultData is the data directory when none is given.
	DefaultData = "./xpushd-data"
	// dbName is the SQLite database in the data directory. A running
	// xpushd serve and the administration commands open it together:
	// SQLite's WAL mode and busy timeout let them.
	dbName = "xpushd.db"
	// dataPerm keeps the database, the TLS key and the API token hashes
	// to the server's user.
	dataPerm = 0o700
)

// dataFlag adds --data to fs.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", DefaultData, "data `directory` with the database (environment XPUSHD_DATA)")
}

// only returns an envOK for layers that lets the environment set the
// named flags alone: the administration commands take XPUSHD_DATA, but
// an XPUSHD_NAME must not pick the account that user delete removes.
func only(names ...string) func(string) bool {
	return func(name string) bool {
		for _, n := range names {
			if n == name {
				return true
			}
		}
		return false
	}
}

// parseAdmin parses the flags of an administration command and fills
// --data from the environment.
func (c *cli) parseAdmin(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := layers(fs, c.lookupEnv, only("data"), nil); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// openStore opens the database in dir. With create, a missing directory
// (mode 0700) and database are created; without, a missing database is
// an error, so that a mistyped --data is not taken for an empty server.
func openStore(c *cli, dir string, create bool) (store.Store, error) {
	path := filepath.Join(dir, dbName)
	if create {
		if err := os.MkdirAll(dir, dataPerm); err != nil {
			return nil, fmt.Errorf("cannot create the data directory: %w", err)
		}
	} else if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("there is no xpushd database in %s (is --data right?)", dir)
	}
	db, err := sqlite.Open(c.ctx, path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the database %s: %w", path, err)
	}
	return db, nil
}
