package main

import "github.com/spf13/cobra"

// configCommand is `wharf config`: the config tool.
func configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate config.yaml, provision TLS, and run the guided configuration wizard",
	}
	cmd.AddCommand(configValidateCommand(), configTLSCommand(), configWizardCommand())
	return cmd
}
