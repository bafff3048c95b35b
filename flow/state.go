package flow

import "github.com/metaflow-go/metaflow/capture/decode"

// TCP flow states. The machine follows DeepFlow's agent: a state plus the
// flags of the next packet and its direction give the next state and the
// timeout class; when a flow times out (or input ends) its state names the
// close type.
const (
	stRaw            uint8 = iota // no TCP packet judged yet (also: every non-TCP flow)
	stOpening1                    // client SYN seen
	stOpening2                    // server SYN-ACK seen
	stEstablished                 // data or ACKs flowing
	stClosingTx1                  // client sent FIN
	stClosingTx2                  // client FIN, then server FIN
	stClosingRx1                  // server sent FIN
	stClosingRx2                  // server FIN, then client FIN
	stClosed                      // both FINs and the last ACK
	stReset                       // RST after the connection was open
	stException                   // flags that fit no transition
	stServerReset                 // server answered the SYN with RST (port closed)
	stQueueLackCand               // repeated SYN-ACK then server RST
	stPortReuse                   // server ACKed a SYN without SYN-ACK, then client RST
	stSyn1                        // server ACKed a SYN without SYN-ACK (old connection on the port)
	stSynAck1                     // SYN-ACK repeated on an open connection
	stEstablishReset              // RST during the handshake
	numStates
)

// Timeout classes: each live flow sits in the LRU list of its class.
const (
	clsEstablished uint8 = iota
	clsClosingRst
	clsOpeningRst
	clsFinClosed
	clsOther
	numClasses
)

// Flag groups of a TCP segment, by the bits FIN, SYN, RST, PSH, ACK, URG.
const (
	gSyn uint8 = iota
	gSynAck
	gFin
	gRst
	gAck
	gOther
)

func flagGroup(flags uint8) uint8 {
	f := flags & 0x3f
	switch {
	case f&decode.TCPRst != 0:
		if f&decode.TCPSyn != 0 {
			return gOther
		}
		return gRst
	case f&decode.TCPSyn != 0:
		if f&decode.TCPFin != 0 {
			return gOther
		}
		if f&decode.TCPAck != 0 {
			return gSynAck
		}
		return gSyn
	case f&decode.TCPFin != 0:
		return gFin
	case f&decode.TCPAck != 0:
		return gAck
	}
	return gOther
}

// transition returns the state and timeout class after a segment of group g
// sent by the server (fromServer) or the client, in state st.
func transition(st, g uint8, fromServer bool) (uint8, uint8) {
	// Transitions that depend on the segment coming from the server are
	// checked first; the rest apply to both directions.
	if fromServer {
		switch st {
		case stRaw:
			switch g {
			case gSynAck:
				return stOpening2, clsOther
			case gFin:
				return stClosingRx1, clsOther
			}
		case stOpening1:
			switch g {
			case gSynAck:
				return stOpening2, clsOther
			case gAck:
				return stSyn1, clsOther
			case gRst:
				return stServerReset, clsOpeningRst
			case gFin:
				return stClosingRx1, clsOther
			}
		case stOpening2:
			switch g {
			case gSynAck:
				return stOpening2, clsOther
			case gFin:
				return stClosingRx1, clsOther
			case gRst:
				return stEstablishReset, clsOpeningRst
			}
		case stEstablished:
			switch g {
			case gSynAck:
				return stSynAck1, clsEstablished
			case gFin:
				return stClosingRx1, clsOther
			}
		case stClosingTx1:
			if g == gFin {
				return stClosingTx2, clsOther
			}
		case stClosingTx2:
			if g == gAck {
				return stClosingTx2, clsOther
			}
		case stClosingRx1:
			if g == gFin {
				return stClosingRx1, clsOther
			}
		case stClosingRx2:
			if g == gAck {
				return stClosed, clsFinClosed
			}
		case stSyn1:
			switch g {
			case gSynAck:
				return stOpening2, clsOther
			case gAck:
				return stSyn1, clsOther
			case gFin:
				return stClosingRx1, clsOther
			case gRst:
				return stEstablishReset, clsOpeningRst
			}
		case stSynAck1:
			switch g {
			case gSynAck:
				return stSynAck1, clsEstablished
			case gFin:
				return stClosingRx1, clsOther
			case gRst:
				return stQueueLackCand, clsClosingRst
			case gAck:
				return stEstablished, clsEstablished
			}
		}
	}
	switch st {
	case stRaw:
		switch g {
		case gSyn:
			return stOpening1, clsOther
		case gFin:
			return stClosingTx1, clsOther
		case gRst:
			return stReset, clsOther
		case gAck:
			return stEstablished, clsEstablished
		}
	case stOpening1, stOpening2:
		switch g {
		case gSyn:
			return st, clsOther
		case gFin:
			return stClosingTx1, clsOther
		case gRst:
			return stEstablishReset, clsOpeningRst
		case gAck:
			return stEstablished, clsEstablished
		}
	case stEstablished:
		switch g {
		case gSyn, gAck:
			return stEstablished, clsEstablished
		case gFin:
			return stClosingTx1, clsOther
		case gRst:
			return stReset, clsClosingRst
		}
	case stClosingTx1, stClosingTx2, stClosingRx2:
		switch g {
		case gSyn, gSynAck, gFin, gAck:
			if st == stClosingTx2 && g == gAck {
				return stClosed, clsFinClosed
			}
			return st, clsOther
		case gRst:
			if st == stClosingTx1 {
				return stReset, clsOther
			}
			return stReset, clsFinClosed
		}
	case stClosingRx1:
		switch g {
		case gSyn, gSynAck, gAck:
			return stClosingRx1, clsOther
		case gFin:
			return stClosingRx2, clsOther
		case gRst:
			return stReset, clsOther
		}
	case stClosed:
		// Late segments (a retransmitted FIN or ACK) keep the flow closed.
		if g != gOther {
			return stClosed, clsFinClosed
		}
	case stReset, stServerReset, stQueueLackCand, stPortReuse, stEstablishReset:
		if g != gOther {
			return st, clsOther
		}
	case stSyn1:
		switch g {
		case gSyn:
			return stOpening1, clsOther
		case gRst:
			return stPortReuse, clsOther
		case gAck:
			return stEstablished, clsEstablished
		case gFin:
			return stClosingTx1, clsOther
		}
	case stSynAck1:
		switch g {
		case gSyn:
			return stEstablished, clsEstablished
		case gFin:
			return stClosingTx1, clsOther
		case gRst:
			return stReset, clsOther
		case gAck:
			return stSynAck1, clsEstablished
		}
	}
	return stException, clsOther
}

// swapState maps a state to its mirror when client and server trade places.
func swapState(st uint8) uint8 {
	switch st {
	case stClosingTx1:
		return stClosingRx1
	case stClosingRx1:
		return stClosingTx1
	case stClosingTx2:
		return stClosingRx2
	case stClosingRx2:
		return stClosingTx2
	}
	return st
}

// reopens reports whether a client SYN in state st starts a new connection
// on the same 5-tuple (the old one is finished or reset).
func reopens(st uint8) bool {
	switch st {
	case stClosed, stClosingTx2, stClosingRx2, stReset, stEstablishReset, stPortReuse, stException:
		return true
	}
	return false
}

// CloseType says how a flow ended, with DeepFlow's names.
type CloseType uint8

// Close types.
const (
	CloseUnknown               CloseType = iota // Unknown
	CloseFinish                                 // Finish: FIN both ways
	CloseTCPServerRst                           // TcpServerRst: server RST on an open connection
	CloseTimeout                                // Timeout: idle established flow, or any non-TCP flow
	CloseForcedReport                           // ForcedReport: a snapshot of a live flow
	CloseClientSynRepeat                        // ClientSynRepeat: SYN never answered
	CloseServerHalfClose                        // ServerHalfClose: client FIN never answered by the server's FIN
	CloseTCPClientRst                           // TcpClientRst: client RST on an open connection
	CloseServerSynAckRepeat                     // ServerSynAckRepeat: SYN-ACK never ACKed
	CloseClientHalfClose                        // ClientHalfClose: server FIN never answered by the client's FIN
	CloseClientSourcePortReuse                  // ClientSourcePortReuse: SYN hit an old connection on the port
	CloseServerReset                            // ServerReset: SYN answered by RST (port closed)
	CloseServerQueueLack                        // ServerQueueLack: SYN-ACK repeated (accept queue full)
	CloseClientEstablishReset                   // ClientEstablishReset: client RST during the handshake
	CloseServerEstablishReset                   // ServerEstablishReset: server RST during the handshake
	CloseTCPFinClientRst                        // TcpFinClientRst: health check (SYN, SYN-ACK, client RST)
)

var closeNames = [...]string{
	CloseUnknown:               "Unknown",
	CloseFinish:                "Finish",
	CloseTCPServerRst:          "TcpServerRst",
	CloseTimeout:               "Timeout",
	CloseForcedReport:          "ForcedReport",
	CloseClientSynRepeat:       "ClientSynRepeat",
	CloseServerHalfClose:       "ServerHalfClose",
	CloseTCPClientRst:          "TcpClientRst",
	CloseServerSynAckRepeat:    "ServerSynAckRepeat",
	CloseClientHalfClose:       "ClientHalfClose",
	CloseClientSourcePortReuse: "ClientSourcePortReuse",
	CloseServerReset:           "ServerReset",
	CloseServerQueueLack:       "ServerQueueLack",
	CloseClientEstablishReset:  "ClientEstablishReset",
	CloseServerEstablishReset:  "ServerEstablishReset",
	CloseTCPFinClientRst:       "TcpFinClientRst",
}

// String returns the record value (DeepFlow's name).
func (c CloseType) String() string {
	if int(c) < len(closeNames) {
		return closeNames[c]
	}
	return "Unknown"
}

// queueLackMinSynAcks is how many server packets a "SYN-ACK repeated, then
// RST" flow needs to be judged a full accept queue rather than a client
// reset.
const queueLackMinSynAcks = 3

// heartbeat reports a health-check connection: SYN, SYN-ACK, then a client
// RST, no data pushed either way.
func (f *Flow) heartbeat() bool {
	c, s := f.tcpf[0], f.tcpf[1]
	if (c|s)&decode.TCPPsh != 0 {
		return false
	}
	return c&(decode.TCPSyn|decode.TCPRst) == decode.TCPSyn|decode.TCPRst &&
		s&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck
}

// closeType judges how the flow ended from its state (at timeout or at the
// end of input).
func (f *Flow) closeType() CloseType {
	if f.key.proto != decode.ProtoTCP {
		return CloseTimeout
	}
	serverRst := f.tcpf[1]&decode.TCPRst != 0
	switch f.state {
	case stRaw, stEstablished:
		return CloseTimeout
	case stOpening1:
		return CloseClientSynRepeat
	case stOpening2:
		return CloseServerSynAckRepeat
	case stClosingTx1:
		return CloseServerHalfClose
	case stClosingRx1:
		return CloseClientHalfClose
	case stClosingTx2, stClosingRx2, stClosed:
		return CloseFinish
	case stReset:
		if f.heartbeat() {
			return CloseTCPFinClientRst
		}
		if serverRst {
			return CloseTCPServerRst
		}
		return CloseTCPClientRst
	case stSyn1, stPortReuse:
		if f.heartbeat() {
			return CloseTCPFinClientRst
		}
		return CloseClientSourcePortReuse
	case stServerReset:
		return CloseServerReset
	case stSynAck1:
		return CloseServerQueueLack
	case stQueueLackCand:
		if f.pkts[1] > queueLackMinSynAcks {
			return CloseServerQueueLack
		}
		return CloseTCPClientRst
	case stEstablishReset:
		if f.heartbeat() {
			return CloseTCPFinClientRst
		}
		if serverRst {
			return CloseServerEstablishReset
		}
		return CloseClientEstablishReset
	}
	return CloseUnknown
}
