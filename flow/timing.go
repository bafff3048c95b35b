package flow

// SRT and ART samples.

import "math/bits"

func (f *Flow) sampleART(d uint32) {
	f.flags &^= fArtPend
	if d > f.artMax {
		f.artMax = d
	}
	f.artSum = satAdd(f.artSum, d)
	f.artCount++
}

func (f *Flow) sampleSRT(d uint32) {
	f.flags &^= fSrtPend
	if d > f.srtMax {
		f.srtMax = d
	}
	f.srtSum = satAdd(f.srtSum, d)
	f.srtCount++
}

func satAdd(a, b uint32) uint32 {
	s, c := bits.Add32(a, b, 0)
	if c != 0 {
		return ^uint32(0)
	}
	return s
}
