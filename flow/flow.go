package flow

// Flow is one bidirectional flow. (Placeholder: the flow table replaces it.)
type Flow struct{}

// Record is one l4_flow_log record. (Placeholder: the flow table replaces it.)
type Record struct{}
