package deliver

import (
	"time"

	"github.com/provbus/provbus/deliver/target"
)

func targetCfg(url string) target.Config { return target.Config{URL: url, Timeout: 2 * time.Second} }
