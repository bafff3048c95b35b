package ascii

// EqualFoldLower reports whether b equals lower ignoring the case of b's
// ASCII letters. lower must be lower-case ASCII: a letter 'A'..'Z' in b
// matches its lower-case form in lower, and no other byte is folded.
func EqualFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
