package indexer

import (
	"context"
	"fmt"
	"log/slog"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// setScalibrLogger sends scalibr's log lines, which are many and mostly about files it could
// not make sense of, to slog's default logger at debug level.
func setScalibrLogger() { scalibrlog.SetLogger(debugLogger{}) }

type debugLogger struct{}

func (debugLogger) log(level string, msg func() string) {
	l := slog.Default()
	if !l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.Debug(msg(), "component", "scalibr", "scalibr_level", level)
}

func (d debugLogger) Errorf(format string, args ...any) {
	d.log("error", func() string { return fmt.Sprintf(format, args...) })
}
func (d debugLogger) Error(args ...any) { d.log("error", func() string { return fmt.Sprint(args...) }) }
func (d debugLogger) Warnf(format string, args ...any) {
	d.log("warn", func() string { return fmt.Sprintf(format, args...) })
}
func (d debugLogger) Warn(args ...any) { d.log("warn", func() string { return fmt.Sprint(args...) }) }
func (d debugLogger) Infof(format string, args ...any) {
	d.log("info", func() string { return fmt.Sprintf(format, args...) })
}
func (d debugLogger) Info(args ...any) { d.log("info", func() string { return fmt.Sprint(args...) }) }
func (d debugLogger) Debugf(format string, args ...any) {
	d.log("debug", func() string { return fmt.Sprintf(format, args...) })
}
func (d debugLogger) Debug(args ...any) { d.log("debug", func() string { return fmt.Sprint(args...) }) }
