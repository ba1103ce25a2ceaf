#!/usr/bin/python3
"""WebSocket client for the asx server-glue tests (Python websockets 10.4, strict).

usage: ws_client.py URL MODE [CAFILE]     (CAFILE: trust anchor for wss:// URLs)
  echo      text + binary + 1 MiB binary echo, then a normal close; prints "ok <close code>"
  wait      connects and waits for the server to close; prints "closed <code>"
  toobig    sends a 4 KiB message to a server with a smaller limit; prints "closed <code>"
  deflate   like echo with permessage-deflate offered; prints "ok <code> <extensions>"
"""
import asyncio
import ssl
import sys

import websockets


SSL = None  # set from the optional CA file argument for wss:// URLs


async def echo(url, compression):
    async with websockets.connect(url, compression=compression, max_size=8 << 20, ssl=SSL,
                                  open_timeout=10, close_timeout=10) as ws:
        for msg in ["hello", b"\x00\x01binary\xff", "ünïcödé", b"x" * (1 << 20), "y" * 70000]:
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 20)
            if got != msg:
                print("mismatch", type(msg), len(msg), len(got))
                return
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, 10)
        ext = ",".join(e.name for e in ws.extensions) or "-"
        await ws.close(1000, "bye")
        print("ok", ws.close_code, ext)


async def wait(url):
    async with websockets.connect(url, open_timeout=10, close_timeout=10) as ws:
        print("open", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            pass
        print("closed", ws.close_code, flush=True)


async def toobig(url):
    async with websockets.connect(url, open_timeout=10, close_timeout=10) as ws:
        await ws.send(b"z" * 4096)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        print("closed", ws.close_code, flush=True)


def main():
    global SSL
    url, mode = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:
        SSL = ssl.create_default_context(cafile=sys.argv[3])
    if mode == "echo":
        asyncio.run(echo(url, None))
    elif mode == "deflate":
        asyncio.run(echo(url, "deflate"))
    elif mode == "toobig":
        asyncio.run(toobig(url))
    elif mode == "wait":
        asyncio.run(wait(url))


if __name__ == "__main__":
    main()
