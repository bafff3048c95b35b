package dubbo

import (
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// tshark has no Dubbo dissector, so the expected values of the shared
// captures were read from their bytes by hand (tshark -x), independently
// of this decoder:
//
// deepflow_dubbo_hessian2.pcap, 172.16.0.105:33986 -> 172.16.0.103:20880
//
//	frame 1 (264 bytes): da bb | c2 (request, two-way, hessian2) | 00 |
//	  id 00 00 00 00 00 00 59 58 (22872) | length 00 00 00 f8 (248)
//	  05 "2.0.2" | 1b "my.demo.service.UserService" | 05 "0.0.0" |
//	  05 "login" | 30 24 "Ljava/lang/String;Ljava/lang/String;" (36 chars,
//	  medium form) | 0b "13780407607" | 06 "x3#U9&" | H path, remote.application,
//	  sw8-x "0", sw8 "" (empty: no trace), sw8-correlation, interface,
//	  version Z
//	frame 2 (207 bytes): da bb | 02 (response, hessian2) | 14 (20, OK) |
//	  id 22872 | length 191 | 94 (int 4: value with attachments) | C
//	  my.demo.service.ServiceResult ... | H dubbo "2.0.2" Z
//
// deepflow_dubbo-sw8.pcap, 10.71.0.135:49868 -> 10.71.0.136:20880
//
//	frame 1 (481 bytes): da bb c2 00 | id 00 00 00 00 00 01 90 63 (102499) |
//	  length 00 00 01 d1 (465) | "2.0.2" | "my.demo.service.ItemService" |
//	  "0.0.0" | 08 "findItem" | 00 "" (no parameters) | H ... 03 "sw8" 31 0d
//	  (269 chars) "1-YzgxNjRj...MTAwNjc=-YzgxNjRj...MTAwNjY=-3-c2hvcC13ZWI=-..." Z.
//	  base64 -d of the trace id field: c8164cae90e94fe68493c106ea95f1ee.66.16667985488510067,
//	  of the segment id: c8164cae90e94fe68493c106ea95f1ee.66.16667985488510066,
//	  span id 3. No response was captured.
//
// deepflow_dubbo-kryo.pcap, 10.216.4.123:59648 -> 10.216.43.142:37312
//
//	frame 1 (791): da bb c8 (request, two-way, kryo 8) 00 | id 3962641
//	  (00..3c 77 11) | length 775; frame 2 (17): da bb 08 (response, kryo)
//	  14 (20) | id 3962641 | length 1 | 02; frames 3 and 4: the same with
//	  id 3962657 (3c 77 21), lengths 798 and 17. Kryo bodies are not
//	  decoded: requests carry the id only.
func TestShared(t *testing.T) {
	files := sharedCaptures(t, "dubbo")
	if len(files) == 0 {
		t.Skip("shared Dubbo corpus not found")
	}
	dir := filepath.Dir(files[0])
	hessianReq := msg{kind: l7.KindRequest, id: 22872, version: "2.0.2", typ: "login", domain: "my.demo.service.UserService",
		res: "my.demo.service.UserService.login", endpoint: "my.demo.service.UserService/login"}
	sw8Req := msg{kind: l7.KindRequest, id: 102499, version: "2.0.2", typ: "findItem", domain: "my.demo.service.ItemService",
		res: "my.demo.service.ItemService.findItem", endpoint: "my.demo.service.ItemService/findItem",
		trace: "c8164cae90e94fe68493c106ea95f1ee.66.16667985488510067",
		span:  "c8164cae90e94fe68493c106ea95f1ee.66.16667985488510066-3"}
	for _, tc := range []struct {
		file    string
		want    []msg
		lengths []int
	}{
		{"deepflow_dubbo_hessian2.pcap", []msg{hessianReq, {kind: l7.KindResponse, id: 22872, code: 20}}, []int{264, 207}},
		{"deepflow_dubbo-sw8.pcap", []msg{sw8Req}, []int{481}},
		{"deepflow_dubbo-kryo.pcap", []msg{{kind: l7.KindRequest, id: 3962641}, {kind: l7.KindResponse, id: 3962641, code: 20},
			{kind: l7.KindRequest, id: 3962657}, {kind: l7.KindResponse, id: 3962657, code: 20}}, []int{791, 17, 798, 17}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := l7test.ReplayTCP(t, filepath.Join(dir, tc.file), New(nil))
			if r.Errs != 0 {
				t.Errorf("%d parse errors", r.Errs)
			}
			var got []msg
			for i, x := range r.Msgs {
				got = append(got, capture(&x.M))
				if i < len(tc.lengths) && x.M.Length != tc.lengths[i] {
					t.Errorf("message %d: length %d, want %d", i, x.M.Length, tc.lengths[i])
				}
			}
			l7test.CompareMessages(t, tc.file, got, tc.want)
		})
	}
}

// TestPipeline runs the hessian2 capture through the flow table and the
// engine: one record, request and response paired by id.
func TestPipeline(t *testing.T) {
	files := sharedCaptures(t, "dubbo")
	if len(files) == 0 {
		t.Skip("shared Dubbo corpus not found")
	}
	dir := filepath.Dir(files[0])
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := l7test.Run(t, filepath.Join(dir, "deepflow_dubbo_hessian2.pcap"), l7.Config{Registry: reg})
	if len(p.Records) != 1 {
		t.Fatalf("%d records, want 1", len(p.Records))
	}
	r := p.Records[0]
	if !r.HasRequest || !r.HasResponse || r.L7Protocol != Name || string(r.RequestResource) != "my.demo.service.UserService.login" ||
		r.RequestID != 22872 || r.ResponseCode != 20 || r.Status != l7.StatusOk || r.IsTLS || r.Server.Port() != 20880 {
		t.Errorf("record %+v", r)
	}
	if d, _ := r.ResponseDuration(); d != 4332 {
		t.Errorf("response_duration %d µs, want 4332 (frame 2 - frame 1)", d)
	}
	if len(p.Flows) != 1 || p.Flows[0].L7Protocol != Name {
		t.Errorf("flows %+v", p.Flows)
	}
}
