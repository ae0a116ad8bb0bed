// Package sqlstore implements store.Store on SQL databases: SQLite now (through
// github.com/mattn/go-sqlite3), PostgreSQL next.
package sqlstore
