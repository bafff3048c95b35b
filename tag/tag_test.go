package tag

import "testing"

func TestSet(t *testing.T) {
	var s Set
	s.Add(Client, "pod", "a")
	s.Set(Server, "service", "db")
	s.Set(Server, "service", "db2")
	if v, ok := s.Get(Server, "service"); !ok || v != "db2" {
		t.Fatalf("Get(service) = %q, %v", v, ok)
	}
	if _, ok := s.Get(Client, "service"); ok {
		t.Fatal("a server tag is visible on the client side")
	}
	c := s.Clone()
	s.Set(Client, "pod", "changed")
	if v, _ := c.Get(Client, "pod"); v != "a" {
		t.Fatalf("clone shares storage: pod = %q", v)
	}
	if s.Len() != 2 || c.Len() != 2 {
		t.Fatalf("Len = %d, %d; want 2, 2", s.Len(), c.Len())
	}
	s.Reset()
	if s.Len() != 0 || cap(s.Side(Client)) == 0 {
		t.Fatalf("Reset: len %d cap %d", s.Len(), cap(s.Side(Client)))
	}
	if n := testing.AllocsPerRun(100, func() { s.Reset(); s.Add(Client, "pod", "a") }); n != 0 {
		t.Fatalf("Add after Reset allocates %v times", n)
	}
}
