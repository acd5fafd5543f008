package gossip

import (
	"net/netip"

	"github.com/hashicorp/memberlist"
)

func addr(a netip.AddrPort) memberlist.Address { return memberlist.Address{Addr: a.String()} }
