"""Independent WebSocket peer for test_ws_interop: the `websockets` 10.4 sans-I/O protocol
objects (strict RFC 6455 / RFC 7692) driven over stdin/stdout with 4-byte big-endian length
prefixed chunks, so the C test can exchange bytes with it without sockets.

usage: ws_peer.py server|client plain|deflate|deflate-nct
  server: accepts a handshake, echoes every text/binary message, answers the close.
  client: connects, sends a fixed set of messages, checks the echoes, closes with 1000;
          exits 0 only if every echo matched and the close handshake completed.
"""
import struct
import sys

from websockets.client import ClientConnection
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                      ServerPerMessageDeflateFactory)
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.connection import State
from websockets.server import ServerConnection
from websockets.uri import parse_uri


def read_chunk():
    head = sys.stdin.buffer.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    return sys.stdin.buffer.read(n)


def write_chunk(data):
    sys.stdout.buffer.write(struct.pack(">I", len(data)) + data)
    sys.stdout.buffer.flush()


def flush(conn):
    write_chunk(b"".join(conn.data_to_send()))


def run_server(ext):
    factories = None
    if ext == "deflate":
        factories = [ServerPerMessageDeflateFactory()]
    elif ext == "deflate-nct":
        factories = [ServerPerMessageDeflateFactory(server_no_context_takeover=True,
                                                    client_no_context_takeover=True,
                                                    server_max_window_bits=10)]
    conn = ServerConnection(extensions=factories, max_size=None)
    while True:
        data = read_chunk()
        if data is None:
            return 0
        conn.receive_data(data)
        for ev in conn.events_received():
            if isinstance(ev, Request):
                conn.send_response(conn.accept(ev))
            elif ev.opcode == Opcode.TEXT:
                conn.send_text(ev.data)
            elif ev.opcode == Opcode.BINARY:
                conn.send_binary(ev.data)
        flush(conn)


MESSAGES = [
    (Opcode.TEXT, "héllo wörld ".encode() * 50),
    (Opcode.BINARY, bytes(range(256)) * 40),
    (Opcode.TEXT, b""),
    (Opcode.BINARY, b"\x00" * 100000),
]


def run_client(ext):
    factories = None
    if ext == "deflate":
        factories = [ClientPerMessageDeflateFactory(client_max_window_bits=True)]
    elif ext == "deflate-nct":
        factories = [ClientPerMessageDeflateFactory(server_no_context_takeover=True,
                                                    client_no_context_takeover=True,
                                                    client_max_window_bits=11)]
    conn = ClientConnection(parse_uri("ws://localhost/ws"), extensions=factories, max_size=None)
    conn.send_request(conn.connect())
    flush(conn)
    pending = list(MESSAGES)
    sent = False
    while True:
        data = read_chunk()
        if data is None:
            return 3
        conn.receive_data(data)
        for ev in conn.events_received():
            if isinstance(ev, Response):
                if conn.state is not State.OPEN:
                    return 4
            elif ev.opcode in (Opcode.TEXT, Opcode.BINARY):
                want = pending.pop(0)
                if (ev.opcode, ev.data) != want:
                    return 5
                if not pending:
                    conn.send_close(1000, "done")
            elif ev.opcode == Opcode.CLOSE:
                flush(conn)
                return 0 if not pending and ev.data[:2] == b"\x03\xe8" else 6
        if conn.state is State.OPEN and not sent:
            for op, payload in MESSAGES:
                if op == Opcode.TEXT:
                    conn.send_text(payload)
                else:
                    conn.send_binary(payload)
            sent = True
        flush(conn)


def main():
    mode, ext = sys.argv[1], sys.argv[2]
    return run_server(ext) if mode == "server" else run_client(ext)


if __name__ == "__main__":
    sys.exit(main())
