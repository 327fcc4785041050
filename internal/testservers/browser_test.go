package testservers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<!doctype html><form action="/hello" method="post">
<input id="name" name="name"><button id="go" type="submit">Go</button></form>`)
		case "/hello":
			http.SetCookie(w, &http.Cookie{Name: "seen", Value: "yes", Path: "/"})
			fmt.Fprintf(w, `<!doctype html><p id="greeting">hello %s</p>`, strings.ToUpper(r.PostFormValue("name")))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(Browser(t), 30*time.Second)
	defer cancel()
	var greeting, location string
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#name", chromedp.ByQuery),
		chromedp.SendKeys("#name", "wharf", chromedp.ByQuery),
		chromedp.Click("#go", chromedp.ByQuery),
		chromedp.WaitVisible("#greeting", chromedp.ByQuery),
		chromedp.Text("#greeting", &greeting, chromedp.ByQuery),
		chromedp.Location(&location),
	)
	if err != nil {
		t.Fatal(err)
	}
	if greeting != "hello WHARF" || location != srv.URL+"/hello" {
		t.Errorf("after submitting the form: %q at %s, want %q at %s", greeting, location, "hello WHARF", srv.URL+"/hello")
	}

	// Each browser starts with an empty profile: the cookie set above is not in a new one.
	ctx2, cancel2 := context.WithTimeout(Browser(t), 30*time.Second)
	defer cancel2()
	var cookies string
	if err := chromedp.Run(ctx2,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.Evaluate(`document.cookie`, &cookies),
	); err != nil {
		t.Fatal(err)
	}
	if cookies != "" {
		t.Errorf("a fresh browser has cookies %q", cookies)
	}
}
