package local_test

import (
	"testing"

	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/storage/local"
	"github.com/wharf-registry/wharf/registry/storage/storagetest"
)

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		d, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
