package postgres_test

import (
	"context"
	"os"
	"testing"

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

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}
