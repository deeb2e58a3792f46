package eventlog

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// admin returns a kadm client over a fresh plain client from dial and the
// function that closes it.
func admin(dial Dial) (*kadm.Client, func(), error) {
	cl, err := dial()
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// asUnknown maps the broker's "unknown topic" to ErrUnknownTopic so the
// commands report every missing topic the same way.
func asUnknown(err error, topic string) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) && !errors.Is(err, ErrUnknownTopic) {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, topic)
	}
	return err
}
