// Command gobin is a Go program built by the scanner tests: it uses golang.org/x/text at a
// version with known vulnerabilities (GO-2022-1059 and others), so that scanning its binary
// finds them.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tags, _, err := language.ParseAcceptLanguage(os.Getenv("LANG"))
	fmt.Println(tags, err)
}
