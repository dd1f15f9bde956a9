"""The Python peer of bench_gateway: a minimal client of jupyter-server's kernel WebSocket written
with tornado (Debian python3-tornado), as Python tools talk to a gateway.

Usage: /usr/bin/python3 peer_gateway.py BASE_URL TOKEN
Starts its own kernel, then reads commands on stdin, one per line, answering one JSON line each:
  rt N          -> [ms, ...]   N `pass` round trips (execute_request sent -> reply and idle received)
  stream CODE   -> {"seconds": s, "bytes": n}   runs CODE (JSON string), counting stdout bytes
  quit
"""
import asyncio
import json
import sys
import time
import urllib.request
import uuid

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def rest(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": "token " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None


class Client:
    def __init__(self, ws, session):
        self.ws = ws
        self.session = session

    def message(self, msg_type, content, channel="shell"):
        mid = uuid.uuid4().hex
        return mid, {
            "header": {"msg_id": mid, "msg_type": msg_type, "session": self.session, "username": "peer",
                       "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "buffers": [], "channel": channel,
        }

    async def request(self, msg_type, content, on_iopub=None):
        mid, msg = self.message(msg_type, content)
        await self.ws.write_message(json.dumps(msg))
        got_reply = got_idle = False
        while not (got_reply and got_idle):
            raw = await self.ws.read_message()
            if raw is None:
                raise RuntimeError("WebSocket closed")
            m = json.loads(raw)
            if m.get("parent_header", {}).get("msg_id") != mid:
                continue
            if m["channel"] == "shell":
                got_reply = True
            elif m["channel"] == "iopub":
                if m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    got_idle = True
                elif on_iopub:
                    on_iopub(m)

    async def execute(self, code, on_iopub=None):
        await self.request("execute_request", {"code": code, "silent": False, "store_history": True,
                                                "user_expressions": {}, "allow_stdin": False,
                                                "stop_on_error": False}, on_iopub)


async def main():
    base, token = sys.argv[1], sys.argv[2]
    kernel = rest(base, token, "POST", "/api/kernels", {"name": "python3"})
    session = uuid.uuid4().hex
    ws_url = base.replace("http", "ws", 1) + "/api/kernels/%s/channels?session_id=%s" % (kernel["id"], session)
    ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": "token " + token}),
                                 max_message_size=1 << 30)
    client = Client(ws, session)
    await client.request("kernel_info_request", {})
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "rt":
                times = []
                for _ in range(int(arg)):
                    t0 = time.perf_counter()
                    await client.execute("pass")
                    times.append((time.perf_counter() - t0) * 1000)
                print(json.dumps(times), flush=True)
            elif cmd == "stream":
                received = [0]

                def count(m):
                    if m["header"]["msg_type"] == "stream" and m["content"]["name"] == "stdout":
                        received[0] += len(m["content"]["text"].encode())

                t0 = time.perf_counter()
                await client.execute(json.loads(arg), count)
                print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": received[0]}), flush=True)
    finally:
        ws.close()
        rest(base, token, "DELETE", "/api/kernels/" + kernel["id"])


asyncio.run(main())
