package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// configValidateCommand is `wharf config validate` (being written).
func configValidateCommand() *cobra.Command {
	return &cobra.Command{Use: "validate", Hidden: true, RunE: func(*cobra.Command, []string) error { return errors.New("not yet") }}
}
