package schema

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(`
SERVER_HOSTNAME: registry.example.com
PREFERRED_URL_SCHEME: https
DB_URI: postgresql://wharf:secret@db:5432/wharf
DISTRIBUTED_STORAGE_CONFIG:
  s3:
    - S3Storage
    - s3_bucket: images
      storage_path: /datastorage/registry
      s3_access_key: AK
      s3_secret_key: SK
      host: minio.local
      port: 9000
  local:
    - LocalStorage
    - storage_path: /var/lib/wharf
DISTRIBUTED_STORAGE_PREFERENCE: [s3, local]
DEFAULT_TAG_EXPIRATION: 3d
MAXIMUM_LAYER_SIZE: 5G
FEATURE_ANONYMOUS_ACCESS: false
FEATURE_PROXY_STORAGE: true
SUPER_USERS: [admin]
V2_PAGINATION_SIZE: 20
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerHostname != "registry.example.com" || cfg.PreferredURLScheme != "https" {
		t.Errorf("hostname/scheme = %q %q", cfg.ServerHostname, cfg.PreferredURLScheme)
	}
	if cfg.DefaultTagExpiration.D() != 72*time.Hour {
		t.Errorf("DEFAULT_TAG_EXPIRATION = %v", cfg.DefaultTagExpiration.D())
	}
	if cfg.MaximumLayerSize != 5<<30 {
		t.Errorf("MAXIMUM_LAYER_SIZE = %d", cfg.MaximumLayerSize)
	}
	s3 := cfg.DistributedStorageConfig["s3"]
	if s3.Driver != "S3Storage" || s3.String("s3_bucket") != "images" || s3.String("port") != "9000" {
		t.Errorf("s3 location = %+v", s3)
	}
	if cfg.FeatureAnonymousAccess || !cfg.FeatureProxyStorage || cfg.V2PaginationSize != 20 {
		t.Errorf("features = %+v", cfg)
	}
	if !cfg.FeatureGarbageCollection || cfg.BlobUploadExpiration.D() != 24*time.Hour {
		t.Errorf("defaults not kept for missing keys: %+v", cfg)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	cfg, err := Parse("config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("empty config = %+v, want defaults", cfg)
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, path, message string
		line                      int
	}{
		{"unknown key", "SERVER_HOSTNAME: x\nFEATURE_TYPO: true\n", "FEATURE_TYPO", "unknown key", 2},
		{"bad enum", "PREFERRED_URL_SCHEME: ftp\n", "PREFERRED_URL_SCHEME", "must be one of", 1},
		{"bad duration", "\n\nDEFAULT_TAG_EXPIRATION: 2 weeks\n", "DEFAULT_TAG_EXPIRATION", "does not match pattern", 3},
		{"bad size", "MAXIMUM_LAYER_SIZE: 20GB\n", "MAXIMUM_LAYER_SIZE", "does not match pattern", 1},
		{"wrong type", "FEATURE_ANONYMOUS_ACCESS: yes please\n", "FEATURE_ANONYMOUS_ACCESS", "expected boolean", 1},
		{"bad db uri", "DB_URI: mysql://x\n", "DB_URI", "does not match pattern", 1},
		{"unknown driver", "DISTRIBUTED_STORAGE_CONFIG:\n  default:\n    - FloppyStorage\n    - {}\n", "DISTRIBUTED_STORAGE_CONFIG/default/0", "must be one of", 3},
		{"missing s3 bucket", "DISTRIBUTED_STORAGE_CONFIG:\n  default:\n    - S3Storage\n    - storage_path: /x\n", "DISTRIBUTED_STORAGE_CONFIG/default/1", "missing properties: 's3_bucket'", 4},
		{"unknown s3 param", "DISTRIBUTED_STORAGE_CONFIG:\n  default:\n    - S3Storage\n    - s3_bucket: abc\n      storage_path: /x\n      s3_buckt: y\n", "DISTRIBUTED_STORAGE_CONFIG/default/1/s3_buckt", "unknown key", 6},
		{"preference not defined", "DISTRIBUTED_STORAGE_PREFERENCE: [elsewhere]\n", "DISTRIBUTED_STORAGE_PREFERENCE/0", "not defined in DISTRIBUTED_STORAGE_CONFIG", 1},
		{"not yaml", "SERVER_HOSTNAME: [unclosed\n", "", "not valid YAML", 0},
		{"not a mapping", "- a\n- b\n", "", "expected object", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(tc.yaml))
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Parse error = %v, want *InvalidError", err)
			}
			for _, p := range inv.Problems {
				if p.Path == tc.path && strings.Contains(p.Message, tc.message) && (tc.line == 0 || p.Line == tc.line) {
					return
				}
			}
			t.Fatalf("problems %+v lack path %q line %d message %q", inv.Problems, tc.path, tc.line, tc.message)
		})
	}
}

func TestDefaultsAgreeWithSchema(t *testing.T) {
	want, err := DefaultsFromSchema()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s: Go default %#v, schema default %#v", k, got[k], v)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a directory without config.yaml: %v", err)
	}
	os.WriteFile(filepath.Join(dir, FileName), []byte("SERVER_HOSTNAME: reg.local:5000\n"), 0o600)
	cfg, err := Load(dir)
	if err != nil || cfg.ServerHostname != "reg.local:5000" {
		t.Fatalf("Load = %+v, %v", cfg, err)
	}
}

func TestDurationsAndSizes(t *testing.T) {
	for in, want := range map[string]time.Duration{"2w": 14 * 24 * time.Hour, "30m": 30 * time.Minute, "0s": 0, "1d": 24 * time.Hour, "90s": 90 * time.Second} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "2", "w", "-1d", "1y"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]int64{"20G": 20 << 30, "512M": 512 << 20, "100": 100, "1T": 1 << 40} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseSize("1GB"); err == nil {
		t.Error("ParseSize(1GB) succeeded")
	}
}

func TestStorageLocationsReplaceTheDefault(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(`DISTRIBUTED_STORAGE_CONFIG:
  s3: [S3Storage, {s3_bucket: wharf, storage_path: /registry}]
DISTRIBUTED_STORAGE_PREFERENCE: [s3]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DistributedStorageConfig) != 1 || cfg.DistributedStorageConfig["s3"].Driver != "S3Storage" {
		t.Fatalf("locations = %v, want only s3 (the default location must not be merged in)", cfg.DistributedStorageConfig)
	}
}
