// Command hello is the smoke test's container: a static binary that prints a greeting, or with
// "serve ADDR" answers every HTTP request with it.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

const greeting = "hello from a container in the wharf test VM"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "serve" {
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, greeting) })
		log.Fatal(http.ListenAndServe(os.Args[2], nil))
	}
	fmt.Println(greeting)
}
