#!/usr/bin/python3
"""A websockets 10.4 echo server for the asx WebSocket client tests.

usage: ws_server.py            prints "port N" once listening, echoes until stdin closes
The server offers the subprotocol "chat" and accepts permessage-deflate (websockets' default).
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    async for msg in ws:
        await ws.send(msg)


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, subprotocols=["chat"],
                                max_size=4 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        print("port %d" % port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin


asyncio.run(main())
