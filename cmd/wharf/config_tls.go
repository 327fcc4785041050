package main

import (
	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/configtool/tlsgen"
)

// configTLSCommand is `wharf config tls`: make ssl.cert and ssl.key signed by a CA.
func configTLSCommand() *cobra.Command {
	var req tlsgen.Request
	var keyType string
	cmd := &cobra.Command{
		Use:   "tls --config-dir DIR --hostname NAME [--hostname NAME...] [--ip ADDRESS...]",
		Short: "Make the registry's TLS certificate (ssl.cert, ssl.key) and a CA for clients to trust",
		Long: "Make ssl.cert (the server certificate, then its CA) and ssl.key in the config directory, for the host\n" +
			"names and IP addresses given (default: SERVER_HOSTNAME in config.yaml). The first run makes a certificate\n" +
			"authority and keeps it in DIR/" + tlsgen.CADirName + "/ (or --ca-dir); later runs sign with the same CA, so clients\n" +
			"that trust it keep working. --ca-cert and --ca-key sign with your own CA instead. The command prints how\n" +
			"podman, docker and the system trust store come to trust the CA.",
		Example: "  wharf config tls --config-dir /etc/wharf --hostname registry.example.com --ip 10.0.0.5\n" +
			"  wharf config tls --config-dir /etc/wharf --hostname registry.example.com --ca-cert corp-ca.pem --ca-key corp-ca.key --force",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.KeyType = tlsgen.KeyType(keyType)
			res, err := tlsgen.Provision(req)
			if err != nil {
				return err
			}
			return res.Report(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ConfigDir, "config-dir", "", "config directory: receives ssl.cert and ssl.key (required)")
	f.StringArrayVar(&req.Hostnames, "hostname", nil, "a host name clients use for the registry, without port (repeatable; *.example.com allowed)")
	f.IPSliceVar(&req.IPs, "ip", nil, "an IP address clients use for the registry (repeatable)")
	f.IntVar(&req.Days, "days", tlsgen.DefaultDays, "days the server certificate is valid")
	f.IntVar(&req.CADays, "ca-days", tlsgen.DefaultCADays, "days a new CA is valid")
	f.StringVar(&keyType, "key-type", string(tlsgen.ECDSA), "algorithm of new keys: ecdsa (P-256) or rsa (3072 bits)")
	f.StringVar(&req.CADir, "ca-dir", "", "directory keeping Wharf's CA (default: DIR/"+tlsgen.CADirName+")")
	f.StringVar(&req.CACertFile, "ca-cert", "", "sign with this existing CA certificate (PEM; any parent CAs after it) instead of Wharf's CA")
	f.StringVar(&req.CAKeyFile, "ca-key", "", "the private key of --ca-cert (unencrypted PEM)")
	f.BoolVar(&req.Force, "force", false, "replace an existing ssl.cert and ssl.key")
	cmd.MarkFlagRequired("config-dir")
	return cmd
}
