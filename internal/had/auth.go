package had

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
)

// authenticator builds the home agent's RFC 4285 check from the
// configuration: every mobile router with a key is authenticated with
// MN-HA; a router without a key (allowed only with insecure = true) is
// accepted without authentication, as long as its BU carries none. It
// returns a nil ha.Authenticator when no router has a key (fully insecure
// mode), and the mnha authenticator (nil then too) for signing BAs.
func authenticator(c *config.HA) (ha.Authenticator, *mnha.Authenticator, error) {
	var sas []mnha.SA
	keyless := map[netip.Addr]bool{}
	for i, r := range c.MobileRouters {
		if r.Key.IsZero() {
			if !c.Agent.Insecure {
				return nil, nil, fmt.Errorf("mobile_router[%d] (%v) has no key and insecure is not set", i, r.HomeAddress)
			}
			keyless[r.HomeAddress] = true
			continue
		}
		sas = append(sas, mnha.SA{SPI: r.SPI, Key: r.Key.Bytes(), NAI: r.NAI, HomeAddress: r.HomeAddress})
	}
	if len(sas) == 0 {
		return nil, nil, nil
	}
	store, err := mnha.NewStore(sas...)
	if err != nil {
		return nil, nil, fmt.Errorf("MN-HA keys: %w", err)
	}
	mn, err := mnha.NewAuthenticator(store, mnha.Config{Window: c.Auth.ReplayWindow, RequireReplayProtection: c.Auth.RequireTimestamp})
	if err != nil {
		return nil, nil, err
	}
	if len(keyless) == 0 {
		return mn, mn, nil
	}
	return ha.AuthFunc(func(now time.Time, req *ha.BURequest) ha.AuthResult {
		if keyless[req.HomeAddr] && !hasAuthOption(req.BU.Options) {
			return ha.AuthResult{Verdict: ha.AuthAccept}
		}
		return mn.Check(now, req)
	}), mn, nil
}

func hasAuthOption(opts []mh.Option) bool {
	for _, o := range opts {
		if _, ok := o.(mh.Authentication); ok {
			return true
		}
	}
	return false
}
