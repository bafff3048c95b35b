package flow

import (
	"reflect"
	"testing"
)

// TestStats_Add fails when a counter is added to Stats but not to Add.
func TestStats_Add(t *testing.T) {
	var one Stats
	v := reflect.ValueOf(&one).Elem()
	for i := 0; i < v.NumField(); i++ {
		v.Field(i).SetUint(1)
	}
	var sum Stats
	sum.Add(&one)
	sum.Add(&one)
	w := reflect.ValueOf(sum)
	for i := 0; i < w.NumField(); i++ {
		if got := w.Field(i).Uint(); got != 2 {
			t.Errorf("Stats.%s after two Adds = %d, want 2", w.Type().Field(i).Name, got)
		}
	}
}

// TestRecord_Clone fails when a field of Record that refers to memory is
// shared between a record and its clone.
func TestRecord_Clone(t *testing.T) {
	var r Record
	r.FlowID = 7
	r.Tags.Add(0, "pod", "a")
	c := r.Clone()
	r.Tags.Set(0, "pod", "b")
	r.FlowID = 8
	if c.FlowID != 7 {
		t.Fatalf("clone FlowID = %d", c.FlowID)
	}
	if v, _ := c.Tags.Get(0, "pod"); v != "a" {
		t.Fatalf("clone shares tags: %q", v)
	}
	// Every field that holds a reference must be handled by Clone.
	typ := reflect.TypeOf(r)
	for i := 0; i < typ.NumField(); i++ {
		switch f := typ.Field(i); f.Type.Kind() {
		case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
			t.Errorf("Record.%s is a %s: make Clone deep-copy it and extend this test", f.Name, f.Type.Kind())
		}
	}
}
