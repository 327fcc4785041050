package server

import (
	"time"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/ui"
)

// webUI assembles the web UI over the REST API.
func (s *Server) webUI(restAPI *api.API) (*ui.UI, error) {
	cfg := s.Config
	opts := ui.Options{
		Title:              cfg.RegistryTitle,
		Hostname:           cfg.ServerHostname,
		Scheme:             cfg.PreferredURLScheme,
		AuthenticationType: cfg.AuthenticationType,
		DirectLogin:        cfg.FeatureDirectLogin,
		UserCreation:       cfg.FeatureUserCreation,
		SecureCookies:      cfg.SessionCookieSecure,
		Security:           s.SecScan != nil,
	}
	for _, d := range cfg.TagExpirationOptions {
		opts.TagExpirationOptions = append(opts.TagExpirationOptions, time.Duration(d))
	}
	for _, p := range s.oidc {
		opts.Providers = append(opts.Providers, ui.Provider{Name: p.ServiceName(), StartPath: p.StartPath()})
	}
	return ui.New(restAPI, s.Auth, opts, s.log)
}
