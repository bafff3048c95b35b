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

func TestSet_Attach(t *testing.T) {
	l := NewList([]Tag{{"pod", "web-1"}, {"service", "web"}})
	var s Set
	s.Add(Client, "pod", "own")
	s.Attach(Client, l)
	s.Attach(Server, l)
	if s.List(Client) != l || s.List(Server) != l || s.Len() != 4 {
		t.Fatalf("List = %p, %p, Len %d; want %p twice, 4", s.List(Client), s.List(Server), s.Len(), l)
	}
	if &s.Side(Client)[0] != &l.Tags()[0] {
		t.Fatal("Attach copied the list")
	}
	c := s.Clone()
	if c.List(Client) != l {
		t.Fatal("Clone dropped the attached list")
	}
	// Changes copy the list first: the list and the other side stay.
	s.Set(Client, "pod", "web-2")
	s.Add(Server, "ingress", "nginx")
	if s.List(Client) != nil || s.List(Server) != nil {
		t.Fatal("a changed side still reports its list")
	}
	if v, _ := s.Get(Client, "pod"); v != "web-2" {
		t.Fatalf("pod = %q after Set", v)
	}
	if got := l.Tags(); len(got) != 2 || got[0].Value != "web-1" {
		t.Fatalf("the list was modified through the Set: %v", got)
	}
	if v, _ := c.Get(Client, "pod"); v != "web-1" || len(c.Side(Server)) != 2 {
		t.Fatalf("the clone changed: pod %q, %d server tags", v, len(c.Side(Server)))
	}
	// Reset lets go of a list; Add never writes into it.
	s.Attach(Client, l)
	s.Reset()
	s.Add(Client, "pod", "x")
	if l.Tags()[0].Value != "web-1" || s.List(Client) != nil || s.Len() != 1 {
		t.Fatalf("Reset then Add: list %v, set %v", l.Tags(), s.Side(Client))
	}
	s.Attach(Client, nil)
	if s.Len() != 0 || s.List(Client) != nil {
		t.Fatalf("Attach(nil): Len %d", s.Len())
	}
	if n := testing.AllocsPerRun(100, func() { s.Reset(); s.Attach(Client, l); s.Attach(Server, l) }); n != 0 {
		t.Fatalf("Attach allocates %v times", n)
	}
}

func TestNewLists(t *testing.T) {
	tags := []Tag{{"a", "1"}, {"b", "2"}, {"c", "3"}}
	ls := NewLists(tags, []int{1, 1, 3})
	if len(ls) != 3 || ls[0].Len() != 1 || ls[1].Len() != 0 || ls[2].Len() != 2 || ls[2].Tags()[1].Value != "3" {
		t.Fatalf("NewLists = %v", ls)
	}
	tags[0].Value = "changed"
	if ls[0].Tags()[0].Value != "1" {
		t.Fatal("NewLists did not copy")
	}
	if NewList(nil) != nil || (*List)(nil).Len() != 0 {
		t.Fatal("empty list")
	}
	var s Set
	s.Attach(Client, &ls[0])
	s.Add(Client, "z", "9") // must not write into ls[1] or ls[2]
	if ls[2].Tags()[0].Key != "b" {
		t.Fatal("Add wrote past an attached list")
	}
}
