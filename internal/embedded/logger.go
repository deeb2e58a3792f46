package embedded

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// kfakeLogger hands kfake's printf-style logs to zap. kfake logs every
// request at Info, which for a broker is debug noise, so Info and Debug both
// become zap Debug; the message is only formatted when that level is on.
type kfakeLogger struct{ l *zap.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var zl zapcore.Level
	switch level {
	case kfake.LogLevelNone:
		return
	case kfake.LogLevelError:
		zl = zapcore.ErrorLevel
	case kfake.LogLevelWarn:
		zl = zapcore.WarnLevel
	default:
		zl = zapcore.DebugLevel
	}
	if !k.l.Core().Enabled(zl) {
		return
	}
	k.l.Log(zl, fmt.Sprintf(msg, args...))
}
