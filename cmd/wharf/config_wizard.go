package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// configWizardCommand is `wharf config wizard` (being written).
func configWizardCommand() *cobra.Command {
	return &cobra.Command{Use: "wizard", Hidden: true, RunE: func(*cobra.Command, []string) error { return errors.New("not yet") }}
}
