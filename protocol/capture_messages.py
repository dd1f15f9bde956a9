#!/usr/bin/python3
"""Capture real request/reply/IOPub exchanges with ipykernel into protocol/messages.json.

Run with Debian's interpreter (it has jupyter_client and ipykernel):

    /usr/bin/python3 protocol/capture_messages.py

It starts a python3 kernel with a fresh IPython directory, sends one request of each common type,
and records every message of each exchange: the request, the reply, the IOPub messages up to the
request's `idle`, and any stdin traffic. Ids, session ids, user names and dates are replaced by
stable placeholders, so the file only changes when the kernel's behaviour does. Sample messages
for loopback fake peers and for tests of code that reads kernel messages.
"""

import json
import os
import queue
import re
import sys
import tempfile
import time
from pathlib import Path

import ipykernel
import jupyter_client
from jupyter_client.manager import start_new_kernel
from jupyter_client.session import json_default

HERE = Path(__file__).resolve().parent
WAIT = 30  # seconds for any one message; the kernel is local and idle


class Normaliser:
    """Replaces what changes from run to run by placeholders, consistently across messages."""

    def __init__(self):
        self.ids = {}
        self.dates = 0

    def msg_id(self, value):
        if value not in self.ids:
            self.ids[value] = f"msg-{len(self.ids) + 1:03d}"
        return self.ids[value]

    def date(self):
        self.dates += 1
        return f"2026-01-01T00:00:00.{self.dates:06d}Z"

    def header(self, h, client_session, kernel_session):
        if not h:
            return {}
        h = dict(h)
        h["msg_id"] = self.msg_id(h["msg_id"])
        h["session"] = {client_session: "client-session", kernel_session: "kernel-session"}.get(h["session"],
                                                                                               "other-session")
        h["username"] = "user"
        if "date" in h:
            h["date"] = self.date()
        return h


def plain(value):
    return json.loads(json.dumps(value, default=json_default))


def scrub(text):
    """Paths and ids that embed the kernel's pid or a random id."""
    return re.sub(r"ipykernel_\d+", "ipykernel_0", text)


def main():
    with tempfile.TemporaryDirectory() as ipython_dir:
        os.environ["IPYTHONDIR"] = ipython_dir  # a fresh history database and no user profile
        os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
        try:
            exchanges = capture(kc)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    norm = Normaliser()
    client_session = kc.session.session
    kernel_session = None
    for ex in exchanges:
        for m in ex["iopub"]:
            kernel_session = m["header"]["session"]
            break
        if kernel_session:
            break

    def clean(m):
        out = {
            "header": norm.header(plain(m["header"]), client_session, kernel_session),
            "parent_header": norm.header(plain(m["parent_header"]), client_session, kernel_session),
            "metadata": plain(m.get("metadata", {})),
            "content": plain(m["content"]),
            "buffers_hex": [bytes(b).hex() for b in m.get("buffers", [])],
        }
        if "started" in out["metadata"]:
            out["metadata"]["started"] = norm.date()
        if "engine" in out["metadata"]:
            out["metadata"]["engine"] = "engine-id"
        if isinstance(out["content"].get("engine_info"), dict) and "engine_uuid" in out["content"]["engine_info"]:
            out["content"]["engine_info"]["engine_uuid"] = "engine-id"
        return json.loads(scrub(json.dumps(out)))

    result = []
    for ex in exchanges:
        item = {"name": ex["name"], "channel": ex["channel"], "request": clean(ex["request"])}
        for key in ("stdin", "client_stdin"):
            if ex[key]:
                item[key] = [clean(m) for m in ex[key]]
        item["reply"] = clean(ex["reply"])
        item["iopub"] = [clean(m) for m in ex["iopub"]]
        result.append(item)

    payload = {
        "generated_by": "protocol/capture_messages.py",
        "reference": {"ipykernel": ipykernel.__version__, "jupyter_client": jupyter_client.__version__,
                      "python": sys.version.split()[0]},
        "exchanges": result,
    }
    path = HERE / "messages.json"
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=True) + "\n", encoding="ascii")
    print(f"wrote {path}")


def capture(kc):
    exchanges = []

    def run(name, channel, msg_type, content, answer_input=None):
        msg = kc.session.msg(msg_type, content)
        getattr(kc, f"{channel}_channel").send(msg)
        ex = {"name": name, "channel": channel, "request": msg, "reply": None, "iopub": [], "stdin": [],
              "client_stdin": []}
        msg_id = msg["header"]["msg_id"]
        deadline = time.monotonic() + WAIT
        idle = False
        while ex["reply"] is None or not idle:
            if time.monotonic() > deadline:
                sys.exit(f"{name}: no complete answer within {WAIT} s")
            for source, getter in (("iopub", kc.get_iopub_msg), (channel, getattr(kc, f"get_{channel}_msg")),
                                   ("stdin", kc.get_stdin_msg)):
                try:
                    m = getter(timeout=0.05)
                except queue.Empty:
                    continue
                if m["parent_header"].get("msg_id") != msg_id:
                    continue  # left over from start-up
                if source == "iopub":
                    ex["iopub"].append(m)
                    idle = idle or (m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
                elif source == "stdin":
                    ex["stdin"].append(m)
                    reply = kc.session.msg("input_reply", {"value": answer_input}, parent=m)
                    kc.stdin_channel.send(reply)
                    ex["client_stdin"].append(reply)
                else:
                    ex["reply"] = m
        exchanges.append(ex)

    def execute(code, **extra):
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        content.update(extra)
        return content

    run("kernel_info", "shell", "kernel_info_request", {})
    run("execute_stream", "shell", "execute_request", execute("print('hello, caf\u00e9 \u2603')"))
    run("execute_stderr", "shell", "execute_request", execute("import sys; print('warn', file=sys.stderr)"))
    run("execute_result", "shell", "execute_request", execute("x = 40\nx + 2"))
    run("execute_user_expressions", "shell", "execute_request", execute("y = 7", user_expressions={"twice": "y * 2"}))
    run("execute_display", "shell", "execute_request", execute(
        "from IPython.display import display, HTML, update_display\n"
        "display(HTML('<b>first</b>'), display_id='d1')\n"
        "update_display(HTML('<b>second</b>'), display_id='d1')"))
    run("execute_clear_output", "shell", "execute_request", execute(
        "from IPython.display import clear_output\nprint('gone')\nclear_output(wait=True)\nprint('kept')"))
    run("execute_error", "shell", "execute_request", execute("raise ValueError('boom')"))
    run("execute_input", "shell", "execute_request", execute("name = input('name? ')\nprint('hi', name)",
                                                              allow_stdin=True), answer_input="Ada")
    run("execute_silent", "shell", "execute_request", execute("z = 1", silent=True, store_history=False))
    run("complete", "shell", "complete_request", {"code": "import o", "cursor_pos": 8})
    run("inspect", "shell", "inspect_request", {"code": "len", "cursor_pos": 3, "detail_level": 0})
    run("is_complete_incomplete", "shell", "is_complete_request", {"code": "for i in range(3):"})
    run("is_complete_complete", "shell", "is_complete_request", {"code": "x = 1"})
    run("history_tail", "shell", "history_request", {"output": False, "raw": True, "hist_access_type": "tail",
                                                     "n": 3})
    run("comm_info", "shell", "comm_info_request", {})
    run("interrupt", "control", "interrupt_request", {})
    run("kernel_info_control", "control", "kernel_info_request", {})
    return exchanges


if __name__ == "__main__":
    main()
