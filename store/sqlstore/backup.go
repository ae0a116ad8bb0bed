package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sqliteBackup is the backup connection's settings: a reader's, less query_only.
const sqliteBackup = "?_txlock=deferred&" + sqliteCommon

// ErrBackupPostgres is Backup's answer for a PostgreSQL DSN: PostgreSQL has its
// own consistent online backup, pg_dump.
var ErrBackupPostgres = errors.New("sqlstore: backup copies SQLite files; back up PostgreSQL with pg_dump (for example pg_dump --format=custom --file=onramp.dump DSN) and restore with pg_restore")

// Backup writes a consistent copy of the SQLite database at path to the new
// file to, while the database stays in use: servers on the same file keep
// reading and writing. It runs SQLite's VACUUM INTO in one read transaction,
// which sees a single snapshot of the WAL-mode database, so the copy holds
// every write committed before the backup started and no half of any write
// (one store write is one transaction). The copy is checked with PRAGMA
// integrity_check before it is given its name, so a file at to is always a
// whole, checked backup; it is created with mode 0600, because it holds
// what the database holds (token hashes, SP private keys, the server key).
//
// Backup never creates, migrates or writes the database at path, and refuses
// a to that exists. For a PostgreSQL DSN it returns ErrBackupPostgres.
//
// To restore: stop every server of the database, replace the database file
// with the backup, delete the database's -wal and -shm files if they exist
// (they belong to the replaced file, and SQLite would apply a stale WAL to the
// backup), and start the servers. Open migrates a backup taken by an older
// version as it would the database itself. The copy's replay fence names no
// boot of any machine, so the first store to open it moves the fence (see
// fence.go): the assertions whose replay records were written after the
// backup are refused.
func Backup(ctx context.Context, path, to string) (err error) {
	if isPostgres(path) {
		return ErrBackupPostgres
	}
	if err := checkBackupPaths(path, to); err != nil {
		return err
	}
	// Not the readers' settings: _query_only refuses VACUUM INTO, though it
	// writes only the new file. This connection runs one SELECT and the
	// VACUUM INTO, nothing else.
	src, err := sql.Open("sqlite3", path+sqliteBackup)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: open %s: %w", path, err)
	}
	defer func() { err = errors.Join(err, src.Close()) }()
	src.SetMaxOpenConns(1)
	var version int64
	if err := src.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlstore: backup: %s is not an onramp database: %w", path, err)
	}

	// VACUUM INTO wants a file that does not exist or is empty. An empty file
	// made here has the right mode and a name no one else picks; it gets the
	// final name only once the copy is whole and checked.
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".partial-*")
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmpName)
		}
	}()
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", tmpName); err != nil {
		return fmt.Errorf("sqlstore: backup: copy %s: %w", path, err)
	}
	if version >= replayFenceVersion {
		if err := markRestored(ctx, tmpName); err != nil {
			return err
		}
	}
	if err := checkCopy(ctx, tmpName); err != nil {
		return err
	}
	if err := syncFile(tmpName); err != nil {
		return err
	}
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("sqlstore: backup: %s appeared while the backup ran; not replacing it", to)
	}
	if err := os.Rename(tmpName, to); err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	// The new name is durable once its directory is.
	return syncFile(filepath.Dir(to))
}

// checkBackupPaths refuses a source that is not an existing SQLite file path
// and a destination that exists or is one of the source's files.
func checkBackupPaths(path, to string) error {
	switch {
	case path == "":
		return errors.New("sqlstore: backup: empty database path")
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("sqlstore: backup: database path %q: options in the path are not supported", path)
	case path == ":memory:" || strings.Contains(path, "mode=memory"):
		return errors.New("sqlstore: backup: an in-memory database has nothing to back up")
	case to == "":
		return errors.New("sqlstore: backup: empty destination")
	case strings.ContainsRune(to, '?'):
		return fmt.Errorf("sqlstore: backup: destination %q: a '?' in the name is not supported", to)
	}
	fi, err := os.Stat(path)
	if err != nil {
		// Not opened: sqlite3 would create an empty database here.
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlstore: backup: %s is not a regular file", path)
	}
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("sqlstore: backup: %s exists; choose a new file name", to)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	src, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	dst, err := filepath.Abs(to)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	for _, f := range []string{src, src + "-wal", src + "-shm", src + "-journal"} {
		if dst == f {
			return fmt.Errorf("sqlstore: backup: %s is one of the database's own files", to)
		}
	}
	return nil
}

// replayFenceVersion is the migration that added the replay_fence table.
const replayFenceVersion = 7

// markRestored makes the copy's replay fence name no boot, so that the store
// that opens it after a restore moves the fence (fence.go): the replay
// records written after the backup are not in it, and the assertions they
// recorded are refused, being issued before the restore.
func markRestored(ctx context.Context, name string) (err error) {
	db, err := sql.Open("sqlite3", name)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: mark the copy's replay fence: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if _, err := db.ExecContext(ctx, `UPDATE replay_fence SET boot_id = 'backup'`); err != nil {
		return fmt.Errorf("sqlstore: backup: mark the copy's replay fence: %w", err)
	}
	return nil
}

// checkCopy runs PRAGMA integrity_check on the copy.
func checkCopy(ctx context.Context, name string) (err error) {
	db, err := sql.Open("sqlite3", name+"?_query_only=on")
	if err != nil {
		return fmt.Errorf("sqlstore: backup: check copy: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result); err != nil {
		return fmt.Errorf("sqlstore: backup: check copy: %w", err)
	}
	if result != "ok" {
		return fmt.Errorf("sqlstore: backup: the copy failed its integrity check: %s", result)
	}
	return nil
}

// syncFile flushes a file or directory to disk.
func syncFile(name string) error {
	f, err := os.Open(filepath.Clean(name))
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlstore: backup: sync %s: %w", name, err)
	}
	return nil
}
