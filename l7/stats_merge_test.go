package l7

import (
	"reflect"
	"testing"
)

// TestStats_Add fails when a counter is added to Stats but not to Add.
func TestStats_Add(t *testing.T) {
	var one Stats
	v := reflect.ValueOf(&one).Elem()
	for i := 0; i < v.NumField(); i++ {
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64, reflect.Uint32:
			f.SetUint(1)
		case reflect.Int, reflect.Int64:
			f.SetInt(1)
		}
	}
	one.Protocols = []ProtocolStats{{Name: "X", Flows: 1, Requests: 1}}
	var sum Stats
	sum.Add(&one)
	sum.Add(&one)
	w := reflect.ValueOf(sum)
	for i := 0; i < w.NumField(); i++ {
		name := w.Type().Field(i).Name
		switch f := w.Field(i); f.Kind() {
		case reflect.Uint64, reflect.Uint32:
			if f.Uint() != 2 {
				t.Errorf("Stats.%s after two Adds = %d, want 2", name, f.Uint())
			}
		case reflect.Int, reflect.Int64:
			if f.Int() != 2 {
				t.Errorf("Stats.%s after two Adds = %d, want 2", name, f.Int())
			}
		}
	}
	if len(sum.Protocols) != 1 || sum.Protocols[0].Flows != 2 || sum.Protocols[0].Requests != 2 {
		t.Errorf("Protocols after two Adds = %+v", sum.Protocols)
	}
	if n := testing.AllocsPerRun(10, func() { sum.Add(&one) }); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
}

// TestRecord_Clone fills every byte field and checks that the clone shares
// none of them (a new field that Clone forgets fails here).
func TestRecord_Clone(t *testing.T) {
	var r Record
	v := reflect.ValueOf(&r).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Type() == reflect.TypeOf([]byte(nil)) {
			f.SetBytes([]byte(v.Type().Field(i).Name))
		}
	}
	r.Tags.Add(0, "pod", "a")
	c := r.Clone()
	cv := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Type() != reflect.TypeOf([]byte(nil)) {
			continue
		}
		name := v.Type().Field(i).Name
		b := f.Bytes()
		b[0] = '!'
		if got := string(cv.Field(i).Bytes()); got != name {
			t.Errorf("clone's %s = %q after changing the original: shared memory (extend Record.byteFields)", name, got)
		}
	}
	r.Tags.Set(0, "pod", "b")
	if g, _ := c.Tags.Get(0, "pod"); g != "a" {
		t.Errorf("clone shares tags")
	}
	var e Engine
	e.stats.Requests = 3
	var s Stats
	if n := testing.AllocsPerRun(10, func() { e.ReadStats(&s) }); n != 0 {
		t.Errorf("ReadStats allocates %v times", n)
	}
}
