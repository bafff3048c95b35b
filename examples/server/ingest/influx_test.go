package ingest_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

// pointString renders a point for comparison: m|k=v,...|field:type=value,...|time.
func pointString(p *ingest.InfluxPoint) string {
	var b strings.Builder
	b.WriteString(p.Measurement + "|")
	for i := 0; i < len(p.Tags); i += 2 {
		fmt.Fprintf(&b, "%s=%s;", p.Tags[i], p.Tags[i+1])
	}
	b.WriteString("|")
	for _, f := range p.Fields {
		switch f.Type {
		case 'f':
			fmt.Fprintf(&b, "%s:f=%v;", f.Key, f.Float)
		case 'i':
			fmt.Fprintf(&b, "%s:i=%d;", f.Key, f.Int)
		case 'u':
			fmt.Fprintf(&b, "%s:u=%d;", f.Key, f.Uint)
		case 'b':
			fmt.Fprintf(&b, "%s:b=%v;", f.Key, f.Bool)
		case 's':
			fmt.Fprintf(&b, "%s:s=%s;", f.Key, f.Str)
		}
	}
	if p.HasTime {
		fmt.Fprintf(&b, "|%d", p.Time)
	}
	return b.String()
}

func TestParseInfluxLine(t *testing.T) {
	cases := []struct{ name, line, want string }{
		{"minimal", `cpu value=1`, `cpu||value:f=1;`},
		{"tags and time", `cpu,host=a,region=eu-1 usage=0.5,idle=99.5 1700000000000000000`, `cpu|host=a;region=eu-1;|usage:f=0.5;idle:f=99.5;|1700000000000000000`},
		{"types", `m i=-12i,u=12u,b1=t,b2=FALSE,b3=True,f=-1.5e3,s="x"`, `m||i:i=-12;u:u=12;b1:b=true;b2:b=false;b3:b=true;f:f=-1500;s:s=x;`},
		{"measurement escapes", `my\ cpu\,x,t=1 v=1`, `my cpu,x|t=1;|v:f=1;`},
		{"tag escapes", `m,path=/a\ b\,c\=d,k\ 1=v v=1`, `m|path=/a b,c=d;k 1=v;|v:f=1;`},
		{"field key escapes", `m f\=1\ x=2`, `m||f=1 x:f=2;`},
		{"string escapes", `m s="a \"q\" \\ b\n, =x"`, `m||s:s=a "q" \ b\n, =x;`},
		{"string with spaces and commas", `m a="x y,z",b=1i 5`, `m||a:s=x y,z;b:i=1;|5`},
		{"other backslash kept", `m\a,t=x\y v=1`, `m\a|t=x\y;|v:f=1;`},
		{"negative time", `m v=1 -5`, `m||v:f=1;|-5`},
		{"trailing spaces", `m v=1 7  `, `m||v:f=1;|7`},
		{"empty string", `m s=""`, `m||s:s=;`},
		{"utf-8", `températures,lieu=café °C=21.5`, `températures|lieu=café;|°C:f=21.5;`},
	}
	var p ingest.InfluxPoint
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := ingest.ParseInfluxLine([]byte(tc.line), &p); err != nil {
				t.Fatal(err)
			}
			if got := pointString(&p); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	bad := []string{
		``, `cpu`, `cpu `, `cpu value`, `cpu value=`, `,t=1 v=1`, `cpu,t v=1`, `cpu,t= v=1`, `cpu, v=1`,
		`cpu v=1i2`, `cpu v=abc`, `cpu v=1 notatime`, `cpu v=1 5 6`, `cpu v="open`, `cpu v=NaN`, `cpu v=+Inf`,
		`cpu v=99999999999999999999i`, `cpu v=-1u`, `cpu v=1,`, `cpu v=1,,w=2`, `cpu =1`, `cpu v=1 99999999999999999999`,
	}
	for _, line := range bad {
		if err := ingest.ParseInfluxLine([]byte(line), &p); !errors.Is(err, ingest.ErrInflux) {
			t.Errorf("%q: err %v, want ErrInflux", line, err)
		}
	}
}

func TestDecodeInflux(t *testing.T) {
	body := "# comment\n\ncpu,host=a,pod=web-1 u=1,s=\"x\",ok=f 10\r\n  mem v=2i\nmem v=3u 4"
	var b store.ExtBatch
	if err := ingest.DecodeInflux([]byte(body), 1e6, 777, &b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range b.Samples {
		r := b.Resources[s.Resource]
		v := fmt.Sprint(s.Value)
		if s.IsText {
			v = "text:" + s.Text
		}
		got = append(got, fmt.Sprintf("%s/%s=%s@%d tags%v labels%d", s.Measurement, s.Metric, v, s.Time, r.Tags, len(s.Labels)))
	}
	want := []string{
		"cpu/cpu_u=1@10000000 tags[{host a} {pod web-1}] labels2",
		"cpu/cpu_s=text:x@10000000 tags[{host a} {pod web-1}] labels2",
		"cpu/cpu_ok=0@10000000 tags[{host a} {pod web-1}] labels2",
		"mem/mem_v=2@777 tags[] labels0",
		"mem/mem_v=3@4000000 tags[] labels0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(b.Resources) != 2 {
		t.Fatalf("%d resources, want 2 (one per tag set)", len(b.Resources))
	}
	for _, body := range []string{"cpu v=1\ncpu v=\n", fmt.Sprintf("cpu v=1 %d", math.MaxInt64/1000)} {
		var b store.ExtBatch
		err := ingest.DecodeInflux([]byte(body), 1e6, 0, &b)
		if !errors.Is(err, ingest.ErrInflux) || !strings.Contains(err.Error(), "line ") {
			t.Fatalf("%q: %v", body, err)
		}
	}
}

// FuzzParseInfluxLine: no panic; a parsed point has a measurement and
// fields, and its canonical form (re-escaped) parses to the same point.
func FuzzParseInfluxLine(f *testing.F) {
	for _, s := range []string{
		`cpu,host=a,region=eu-1 usage=0.5,idle=99.5 1700000000000000000`,
		`m i=-12i,u=12u,b1=t,b2=FALSE,f=-1.5e3,s="x \"y\" \\"`,
		`my\ cpu\,x,t\=1=a\ b v=1`, `m s="a,b c=d" 5`, `m v=1 -5`, `m\a v=1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var p ingest.InfluxPoint
		if err := ingest.ParseInfluxLine(line, &p); err != nil {
			if !errors.Is(err, ingest.ErrInflux) {
				t.Fatalf("error %v does not wrap ErrInflux", err)
			}
			return
		}
		if p.Measurement == "" || len(p.Fields) == 0 || len(p.Tags)%2 != 0 {
			t.Fatalf("point %+v", p)
		}
		var q ingest.InfluxPoint
		canon := canonical(&p)
		if err := ingest.ParseInfluxLine([]byte(canon), &q); err != nil {
			t.Fatalf("canonical %q of %q: %v", canon, line, err)
		}
		if pointString(&p) != pointString(&q) {
			t.Fatalf("%q -> %s\ncanonical %q -> %s", line, pointString(&p), canon, pointString(&q))
		}
	})
}

// canonical writes p in line protocol, escaping everything that needs it.
func canonical(p *ingest.InfluxPoint) string {
	esc := func(s, chars string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(chars, s[i]) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	var b strings.Builder
	b.WriteString(esc(p.Measurement, ", \\"))
	for i := 0; i < len(p.Tags); i += 2 {
		b.WriteString("," + esc(p.Tags[i], ",= \\") + "=" + esc(p.Tags[i+1], ",= \\"))
	}
	b.WriteString(" ")
	for i, f := range p.Fields {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(esc(f.Key, ",= \\") + "=")
		switch f.Type {
		case 'f':
			fmt.Fprintf(&b, "%v", f.Float)
		case 'i':
			fmt.Fprintf(&b, "%di", f.Int)
		case 'u':
			fmt.Fprintf(&b, "%du", f.Uint)
		case 'b':
			fmt.Fprintf(&b, "%v", f.Bool)
		case 's':
			b.WriteString(`"` + esc(f.Str, `"\`) + `"`)
		}
	}
	if p.HasTime {
		fmt.Fprintf(&b, " %d", p.Time)
	}
	return b.String()
}
