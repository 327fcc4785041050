package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// configTLSCommand is `wharf config tls` (being written).
func configTLSCommand() *cobra.Command {
	return &cobra.Command{Use: "tls", Hidden: true, RunE: func(*cobra.Command, []string) error { return errors.New("not yet") }}
}
