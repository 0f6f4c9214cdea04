package postgres_test

import (
	"context"
	"os"
	"testing"

	"videosupport/blob"
	"videosupport/internal/testenv"
	"videosupport/store"
	"videosupport/store/postgres"
	"videosupport/store/storetest"
)

// TestContract runs the store contract against a real PostgreSQL server
// started from Debian's binaries for this test.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		dsn := testenv.StartPostgres(t)
		return func() store.Store {
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestKeys: the recording keys a cluster shares pass the key store
// contract on a real PostgreSQL.
func TestKeys(t *testing.T) {
	storetest.RunKeys(t, func(t *testing.T) func() (storetest.KeyDB, blob.KeyStore) {
		dsn := testenv.StartPostgres(t)
		return func() (storetest.KeyDB, blob.KeyStore) {
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return s, s.Keys()
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}
