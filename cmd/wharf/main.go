// Command wharf is the Wharf container registry system: the registry server and its tools.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "wharf",
		Short:         "Wharf: an enterprise container registry",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(serveCommand(), healthCommand(), userCommand(), configCommand(), bundleCommand(),
		installCommand(), upgradeCommand(), uninstallCommand(), statusCommand(), scannerCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wharf:", oneLine(err.Error()))
		var exit *exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		os.Exit(1)
	}
}

// oneLine folds a multi-line error message (some drivers report one line per attempt) into
// the one line every command promises.
func oneLine(msg string) string {
	lines := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}
