#!/usr/bin/python3
"""Scripted HTTP/2 client (python3-h2) for the server suite.

usage: h2_client.py PORT MODE [ARGS]
  reset PATH DELAY_MS     send GET PATH, wait DELAY_MS, RST_STREAM(CANCEL); wait for the server
                          to acknowledge nothing more; prints "reset-sent"
  concurrent PATH N       open N streams at once on one connection; prints "ok=K"
  upgrade PATH            HTTP/1.1 Upgrade: h2c then h2; prints "101" and "status=S body=B"
  rapid-reset PATH N      open and immediately reset N streams; prints "goaway code=C" when the
                          server ends the connection, "no-goaway" otherwise
  stall PATH              20 x GET PATH with large windows, never read, half-close after 1.5 s
                          and keep the socket open for 8 s; prints "stalled"
  unread                  20 POSTs whose handler never reads the body (they exhaust the 1 MiB
                          connection window), then a 100 KB POST to /echo on the same
                          connection; prints "echo ok" or "stalled"
  idle                    open the connection, send nothing more; prints "goaway code=C" and
                          "closed" when the server ends it
"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def headers(path, method="GET", port=0):
    return [(":method", method), (":path", path), (":scheme", "http"),
            (":authority", "127.0.0.1:%d" % port)]


def pump(sock, conn, on_event, until):
    """Reads frames and dispatches events until until() is true or the connection closes."""
    while not until():
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False
        if not data:
            return False
        for ev in conn.receive_data(data):
            on_event(ev)
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    return True


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if mode == "stall":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: no autotuning
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    if mode == "upgrade":
        settings = conn.initiate_upgrade_connection()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade, HTTP2-Settings\r\n"
               "Upgrade: h2c\r\nHTTP2-Settings: %s\r\n\r\n" % (sys.argv[3], port,
                                                               settings.decode()))
        sock.sendall(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                print("no-101")
                return 1
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            print("no-101", head)
            return 1
        print("101")
        sock.sendall(conn.data_to_send())
        state = {"status": None, "body": b"", "done": False}

        def on_ev(ev):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == 1:
                state["status"] = dict(ev.headers)[":status"]
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == 1:
                state["body"] += ev.data
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == 1:
                state["done"] = True
        if rest:
            for ev in conn.receive_data(rest):
                on_ev(ev)
        pump(sock, conn, on_ev, lambda: state["done"])
        print("status=%s body=%s" % (state["status"], state["body"].decode()))
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        return 0

    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    if mode == "reset":
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers(sys.argv[3], port=port), end_stream=True)
        sock.sendall(conn.data_to_send())
        time.sleep(int(sys.argv[4]) / 1000.0)
        conn.reset_stream(sid, error_code=8)
        sock.sendall(conn.data_to_send())
        print("reset-sent")
        time.sleep(0.3)
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        return 0
    if mode == "rapid-reset":
        n = int(sys.argv[4])
        for _ in range(n):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers(sys.argv[3], port=port), end_stream=True)
            conn.reset_stream(sid, error_code=8)
        try:
            sock.sendall(conn.data_to_send())
        except OSError:
            pass
        state = {"code": None}

        def on_ev(ev):
            if isinstance(ev, h2.events.ConnectionTerminated):
                state["code"] = ev.error_code
        try:
            pump(sock, conn, on_ev, lambda: state["code"] is not None)
        except (OSError, h2.exceptions.ProtocolError):
            pass
        print("goaway code=%d" % state["code"] if state["code"] is not None else "no-goaway")
        return 0
    if mode == "stall":
        # 20 streams with 1 MiB windows and a 256 MiB connection window: far more than the
        # kernel buffers hold, so only the socket pushes back on the server. Never read.
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        conn.increment_flow_control_window(256 << 20)
        for _ in range(20):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers(sys.argv[3], port=port), end_stream=True)
        sock.sendall(conn.data_to_send())
        time.sleep(1.5)  # long enough for the server to fill both socket buffers
        sock.shutdown(socket.SHUT_WR)
        print("stalled")
        sys.stdout.flush()
        time.sleep(8)
        return 0
    if mode == "unread":
        ended = set()
        echo = {"sid": None, "body": b""}

        def on_ev(ev):
            if isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == echo["sid"]:
                echo["body"] += ev.data
        # Wait for the server's connection WINDOW_UPDATE (to 1 MiB).
        pump(sock, conn, on_ev, lambda: conn.outbound_flow_control_window > 65535)
        sids = []
        for _ in range(20):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers("/sleep?ms=100", "POST", port), end_stream=False)
            sent = 0
            while sent < 60000:
                w = min(60000 - sent, conn.local_flow_control_window(sid), 16384)
                if w == 0:
                    break
                sent += w
                conn.send_data(sid, b"u" * w, end_stream=(sent == 60000))
            sids.append(sid)
        sock.sendall(conn.data_to_send())
        pump(sock, conn, on_ev, lambda: all(s in ended for s in sids))
        sid = conn.get_next_available_stream_id()
        echo["sid"] = sid
        conn.send_headers(sid, headers("/echo", "POST", port), end_stream=False)
        body = bytes(range(256)) * 400
        off = 0
        sock.settimeout(3)
        while off < len(body):
            w = min(len(body) - off, conn.local_flow_control_window(sid), 16384)
            if w == 0:
                sock.sendall(conn.data_to_send())
                if not pump(sock, conn, on_ev,
                            lambda: conn.local_flow_control_window(sid) > 0 or sid in ended):
                    print("stalled at %d" % off)
                    return 0
                continue
            conn.send_data(sid, body[off:off + w], end_stream=(off + w == len(body)))
            off += w
        sock.sendall(conn.data_to_send())
        pump(sock, conn, on_ev, lambda: sid in ended)
        print("echo ok" if echo["body"] == body else "echo bad %d" % len(echo["body"]))
        return 0
    if mode == "idle":
        state = {"code": None}

        def on_ev(ev):
            if isinstance(ev, h2.events.ConnectionTerminated):
                state["code"] = ev.error_code
                print("goaway code=%d" % ev.error_code)
        pump(sock, conn, on_ev, lambda: False)
        print("closed")
        return 0
    if mode == "concurrent":
        n = int(sys.argv[4])
        ids = []
        for _ in range(n):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers(sys.argv[3], port=port), end_stream=True)
            ids.append(sid)
        sock.sendall(conn.data_to_send())
        ok = set()
        bodies = {}

        def on_ev(ev):
            if isinstance(ev, h2.events.DataReceived):
                bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                ok.add(ev.stream_id)
        pump(sock, conn, on_ev, lambda: len(ok) == n)
        good = sum(1 for s in ids if s in ok and bodies.get(s, b"").startswith(b"hello"))
        print("ok=%d" % good)
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        return 0
    print("bad mode")
    return 2


if __name__ == "__main__":
    sys.exit(main())
