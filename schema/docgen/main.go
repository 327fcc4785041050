// Command docgen writes docs/config.md, the config.yaml reference, from the embedded schema
// (schema/config.schema.json). `make docs` runs it; a test in package schema fails when the
// file in the repository differs from what it would write.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wharf-registry/wharf/schema"
)

func main() {
	out := flag.String("o", schema.DocsPath, "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	doc, err := schema.Markdown()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(doc, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Printf("wrote %s (%d bytes)\n", out, len(doc)+1)
	return nil
}
