#!/usr/bin/python3
"""grpcio client for the asx-demo test: raw-bytes calls to the echo service, no generated code.

usage: grpc_client.py HOST:PORT          prints one line per check, "ok" lines only when they pass
       grpc_client.py HOST:PORT slow     one 1.5 s call: "started", then "slow ok"
"""
import sys

import grpc


def ident(b):
    return b


def slow(target):
    """A unary call that takes 1.5 s on the server; prints "started" once the channel is up."""
    with grpc.insecure_channel(target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        unary = ch.unary_unary("/asx.demo.Echo/Unary", request_serializer=ident,
                               response_deserializer=ident)
        fut = unary.future(b"slow", timeout=20, metadata=(("x-echo-delay-ms", "1500"),))
        print("started", flush=True)
        try:
            r = fut.result()
            print("slow ok" if r == b"slow" else "slow bad %r" % r, flush=True)
        except grpc.RpcError as e:
            print("slow bad %s" % e.code(), flush=True)


def main():
    target = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "slow":
        slow(target)
        return
    with grpc.insecure_channel(target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        unary = ch.unary_unary("/asx.demo.Echo/Unary", request_serializer=ident,
                               response_deserializer=ident)
        r = unary(b"hello grpc", timeout=10)
        print("unary ok" if r == b"hello grpc" else "unary bad %r" % r)
        big = bytes(range(256)) * 4096  # 1 MiB
        r = unary(big, timeout=20)
        print("unary-1mib ok" if r == big else "unary-1mib bad %d" % len(r))
        stream = ch.unary_stream("/asx.demo.Echo/ServerStream", request_serializer=ident,
                                 response_deserializer=ident)
        got = list(stream(b"s", timeout=10, metadata=(("x-echo-count", "5"),)))
        print("server-stream ok" if got == [b"s"] * 5 else "server-stream bad %r" % got)
        bidi = ch.stream_stream("/asx.demo.Echo/Bidi", request_serializer=ident,
                                response_deserializer=ident)
        got = list(bidi(iter([b"a", b"b", b"c"]), timeout=10))
        print("bidi ok" if got == [b"a", b"b", b"c"] else "bidi bad %r" % got)
        try:
            ch.unary_unary("/asx.demo.Echo/Nope", request_serializer=ident,
                           response_deserializer=ident)(b"x", timeout=10)
            print("unimplemented bad: no error")
        except grpc.RpcError as e:
            print("unimplemented ok" if e.code() == grpc.StatusCode.UNIMPLEMENTED
                  else "unimplemented bad %s" % e.code())
        health = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=ident,
                                response_deserializer=ident)
        r = health(b"\x0a\x0dasx.demo.Echo", timeout=10)  # service "asx.demo.Echo": SERVING
        print("health ok" if r == b"\x08\x01" else "health bad %r" % r)


if __name__ == "__main__":
    main()
