package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/server"
	"github.com/wharf-registry/wharf/registry/store"
)

func userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var configDir, dataDir, email string
	var superuser, passwordStdin bool
	create := &cobra.Command{
		Use:   "create NAME --password-stdin",
		Short: "Create a user (works whether or not a server runs on the same store)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !passwordStdin {
				return errors.New("give the password on standard input with --password-stdin")
			}
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read password from standard input: %w", err)
			}
			password := strings.TrimRight(line, "\r\n")
			ctx := context.Background()
			cfg, _, err := server.LoadConfig(configDir, server.DefaultListen)
			if err != nil {
				return err
			}
			dir, err := server.ResolveDataDir(dataDir)
			if err != nil {
				return err
			}
			st, err := server.OpenStore(ctx, cfg, configDir, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := auth.CreateUser(ctx, st, args[0], password, email, superuser)
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("user %s already exists", args[0])
			}
			if err != nil {
				return err
			}
			kind := "user"
			if u.Superuser {
				kind = "superuser"
			}
			fmt.Printf("created %s %s\n", kind, u.Name)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&configDir, "config-dir", "", "directory holding config.yaml")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "data directory of the embedded default")
	f.StringVar(&email, "email", "", "e-mail address")
	f.BoolVar(&superuser, "superuser", false, "give the user superuser rights")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	cmd.AddCommand(create)
	return cmd
}
