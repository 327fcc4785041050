package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// dialectEnv names the metadata database a test binary run by MainDialects is on.
const dialectEnv = "WHARF_TEST_DIALECT"

// Dialect is the metadata database the current run of a MainDialects package uses: "sqlite"
// or "postgres".
func Dialect() string {
	if d := os.Getenv(dialectEnv); d != "" {
		return d
	}
	return "sqlite"
}

// MainDialects runs a package's tests once on SQLite and, unless -short, once more on
// PostgreSQL, by running the test binary again with the same flags. Tests choose their
// database with Dialect. Call it from TestMain instead of Main.
func MainDialects(m *testing.M) {
	code := m.Run()
	StopAll()
	if os.Getenv(dialectEnv) == "" && !testing.Short() {
		fmt.Println("--- the same tests on PostgreSQL")
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), dialectEnv+"=postgres")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "tests on PostgreSQL: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
