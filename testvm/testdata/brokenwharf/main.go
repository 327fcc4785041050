// Command brokenwharf stands in for a wharf release that cannot start: the install test packs
// it as the registry image of a bundle to check that `wharf upgrade` rolls back when the new
// version never becomes healthy.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wharf (broken test build): cannot start")
	os.Exit(1)
}
