package redis

// PortHints implements l7.PortHinter: Redis's well-known port, 6379, where
// the engine takes an inline command (an l7.WeakRequest) for Redis even
// before a RESP message confirms it.
func (*Decoder) PortHints() []uint16 { return []uint16{6379} }
