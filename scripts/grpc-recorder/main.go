// Command grpc-recorder plays a scripted gRPC conversation that
// scripts/record-http2.sh records: a grpc-go server and client on one
// connection, with a hand-written service (no protoc) whose messages are
// google.protobuf.StringValue.
//
// Calls, in order: Unary "hello" (OK, with traceparent and x-request-id
// metadata), Unary "missing" (NotFound), Unary "boom" (Internal with a
// message that needs percent-encoding), ServerStream (3 replies, OK),
// ClientStream (3 requests, OK), Bidi (3 exchanges, OK), Bidi cancelled by
// the client after one exchange, and a health check
// (grpc.health.v1.Health/Check).
//
// usage: grpc-recorder -addr 127.0.0.1:17201
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type echo struct{}

func unary(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	switch in.Value {
	case "missing":
		return nil, status.Error(codes.NotFound, "no such key")
	case "boom":
		return nil, status.Error(codes.Internal, "boom: disk 100% full, ünïcode")
	}
	return wrapperspb.String("hello " + in.Value), nil
}

func serverStream(_ any, s grpc.ServerStream) error {
	in := new(wrapperspb.StringValue)
	if err := s.RecvMsg(in); err != nil {
		return err
	}
	for i := range 3 {
		if err := s.SendMsg(wrapperspb.String(strings.Repeat(in.Value, i+1))); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func clientStream(_ any, s grpc.ServerStream) error {
	var all []string
	for {
		in := new(wrapperspb.StringValue)
		err := s.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			return s.SendMsg(wrapperspb.String(strings.Join(all, ",")))
		}
		if err != nil {
			return err
		}
		all = append(all, in.Value)
	}
}

func bidi(_ any, s grpc.ServerStream) error {
	for {
		in := new(wrapperspb.StringValue)
		err := s.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.SendMsg(wrapperspb.String("re: " + in.Value)); err != nil {
			return err
		}
	}
}

var desc = grpc.ServiceDesc{
	ServiceName: "demo.Echo",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Unary", Handler: unary}},
	Streams: []grpc.StreamDesc{
		{StreamName: "ServerStream", Handler: serverStream, ServerStreams: true},
		{StreamName: "ClientStream", Handler: clientStream, ClientStreams: true},
		{StreamName: "Bidi", Handler: bidi, ServerStreams: true, ClientStreams: true},
	},
}

func main() {
	addr := flag.String("addr", "127.0.0.1:17201", "address the server listens on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&desc, echo{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	call := func(ctx context.Context, v string) {
		out := new(wrapperspb.StringValue)
		err := conn.Invoke(ctx, "/demo.Echo/Unary", wrapperspb.String(v), out)
		log.Printf("Unary %q: %q %v", v, out.Value, err)
	}
	call(metadata.AppendToOutgoingContext(ctx,
		"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"x-request-id", "req-0001"), "hello")
	call(ctx, "missing")
	call(ctx, "boom")

	s, err := conn.NewStream(ctx, &desc.Streams[0], "/demo.Echo/ServerStream")
	if err != nil {
		log.Fatal(err)
	}
	s.SendMsg(wrapperspb.String("ab"))
	s.CloseSend()
	for {
		out := new(wrapperspb.StringValue)
		if err := s.RecvMsg(out); err != nil {
			log.Printf("ServerStream end: %v", err)
			break
		}
	}

	s, err = conn.NewStream(ctx, &desc.Streams[1], "/demo.Echo/ClientStream")
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		s.SendMsg(wrapperspb.String(v))
		time.Sleep(5 * time.Millisecond)
	}
	s.CloseSend()
	out := new(wrapperspb.StringValue)
	log.Printf("ClientStream: %v", s.RecvMsg(out))

	s, err = conn.NewStream(ctx, &desc.Streams[2], "/demo.Echo/Bidi")
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range []string{"x", "y", "z"} {
		s.SendMsg(wrapperspb.String(v))
		s.RecvMsg(new(wrapperspb.StringValue))
	}
	s.CloseSend()
	log.Printf("Bidi end: %v", s.RecvMsg(new(wrapperspb.StringValue)))

	cctx, ccancel := context.WithCancel(ctx)
	s, err = conn.NewStream(cctx, &desc.Streams[2], "/demo.Echo/Bidi")
	if err != nil {
		log.Fatal(err)
	}
	s.SendMsg(wrapperspb.String("once"))
	s.RecvMsg(new(wrapperspb.StringValue))
	ccancel()
	time.Sleep(20 * time.Millisecond)

	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	log.Printf("Health: %v %v", hc, err)
	time.Sleep(50 * time.Millisecond)
}
