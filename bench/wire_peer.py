#!/usr/bin/python3
"""Peer side of bench_wire: jupyter_client's Session (and jupyter_server's v1 serializer) doing the
same encode/decode work as kernelgate's codecs, timed the same way. Prints one JSON object per
metric on stdout: {"metric": ..., "median_us": ..., "p99_us": ...}.

Usage: /usr/bin/python3 bench/wire_peer.py <batches> <per_batch>
"""

import json
import statistics
import sys
import time

from jupyter_client.session import Session
from jupyter_server.base.zmqhandlers import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

KEY = b"bench-key-0123456789abcdef0123456789abcdef"


def messages(session, kind, count):
    out = []
    for i in range(count):
        if kind == "execute_request":
            content = {"code": "import numpy as np\nx = np.arange(10)\nprint(x.sum())  # caf\u00e9",
                       "silent": False, "store_history": True, "user_expressions": {},
                       "allow_stdin": False, "stop_on_error": True}
            msg = session.msg("execute_request", content=content)
        else:
            msg = session.msg("stream", content={"name": "stdout", "text": ("line of output %d\n" % i) * 3000})
        out.append(msg)
    return out


def timed(batches, per_batch, make_batch, op):
    per_op = []
    for _ in range(batches):
        items = make_batch()
        start = time.perf_counter()
        for item in items:
            op(item)
        per_op.append((time.perf_counter() - start) / per_batch * 1e6)
    per_op.sort()
    return statistics.median(per_op), per_op[min(len(per_op) - 1, int(len(per_op) * 0.99))]


def main():
    batches, per_batch = int(sys.argv[1]), int(sys.argv[2])
    sender = Session(key=KEY, username="bench")
    for kind in ("execute_request", "stream_50k"):
        msgs = messages(sender, kind, per_batch)
        median, p99 = timed(batches, per_batch, lambda: msgs, sender.serialize)
        print(json.dumps({"metric": f"zmq_encode_{kind}", "median_us": median, "p99_us": p99}))

        def fresh_frames():
            return [sender.serialize(m) for m in messages(sender, kind, per_batch)]

        receiver = Session(key=KEY, username="bench")

        def decode(frames):
            _, fed = receiver.feed_identities(frames)
            receiver.deserialize(fed)

        median, p99 = timed(batches, per_batch, fresh_frames, decode)
        print(json.dumps({"metric": f"zmq_decode_{kind}", "median_us": median, "p99_us": p99}))

        median, p99 = timed(batches, per_batch, lambda: msgs,
                            lambda m: serialize_msg_to_ws_v1(m, "shell", sender.pack))
        print(json.dumps({"metric": f"ws_v1_encode_{kind}", "median_us": median, "p99_us": p99}))

        frames = [serialize_msg_to_ws_v1(m, "shell", sender.pack) for m in msgs]

        def v1_decode(frame):
            _, parts = deserialize_msg_from_ws_v1(frame)
            # what a Python client then does with the parts
            [sender.unpack(p) for p in parts[:4]]

        median, p99 = timed(batches, per_batch, lambda: frames, v1_decode)
        print(json.dumps({"metric": f"ws_v1_decode_{kind}", "median_us": median, "p99_us": p99}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
