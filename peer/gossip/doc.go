// Package gossip is the store mesh's membership and gossip: hashicorp/memberlist, always encrypted with the store's
// mesh key, carrying opaque bytes for the node.
//
// What it owns: one memberlist instance bound to a given interface address (never every interface), its keyring
// (rotation: SetKeys), a bounded queue of broadcasts, push/pull of the node's full state, member join/leave events,
// and a periodic re-join against addresses the caller learned from discovery or configuration (memberlist alone
// never rejoins a node it declared dead after a partition).
//
// What it must not do: interpret the bytes. Broadcast payloads are gossiped over UDP and must fit one packet
// (MaxBroadcast); larger ones are refused with ErrTooLarge rather than queued forever (memberlist never sends a
// queued broadcast that does not fit). Larger state goes by push/pull over TCP, up to Config.MaxStateSize.
//
// Wire format: memberlist's own (protocol version 5), every packet and stream AES-GCM-encrypted with the primary
// mesh key. A broadcast is a memberlist user message: an 8-byte random id (big-endian) then the payload; every
// receiver forwards an id it has not seen (among the last 8,192) and delivers the payload once. Push/pull carries
// the node's state bytes as they are; a packet or stream that no installed key decrypts is dropped (GossipVerifyIncoming). A node without the
// key can neither join nor inject messages. Holding the key means full trust: revoke a device by rotating the key.
package gossip
