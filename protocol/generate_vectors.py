#!/usr/bin/python3
"""Regenerate kernelgate's golden wire vectors with the reference implementations.

Run with Debian's interpreter (it has jupyter_client and jupyter_server):

    /usr/bin/python3 protocol/generate_vectors.py

It writes protocol/zmq_vectors.json and protocol/ws_vectors.json. The output is deterministic:
keys, session ids and header dates are fixed, so running it twice gives the same files. See
protocol/README.md for what the vectors cover and how the C++ tests use them.
"""

import json
import sys
from pathlib import Path

import jupyter_client
import jupyter_server
from jupyter_client.session import DELIM, Session, json_default, json_packer
from jupyter_server.base.zmqhandlers import (
    ZMQStreamHandler,
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

HERE = Path(__file__).resolve().parent

# Test-only keys: they protect nothing.
KEY = b"test-vector-key-0b5e2d1c-7a44-4f3e-9d0a-6c1f2e3d4b5a"
OTHER_KEY = b"test-vector-key-not-the-right-one"
CLIENT_SESSION = "5d2c6a1e-8f3b4c7d9e0a1b2c3d4e5f60"
KERNEL_SESSION = "a1b2c3d4-e5f60718293a4b5c6d7e8f90"


def compact_sorted_packer(obj):
    """jupyter_client's packer with sorted keys and no spaces: the byte layout kernelgate writes.

    jupyter_client 7.4.9's own json_packer keeps insertion order and writes ", " and ": "; with
    orjson (jupyter_client 8) the output is compact. Sorting makes the layout reproducible from a
    C++ JSON object, so encode can be checked byte for byte.
    """
    return json.dumps(
        obj,
        default=json_default,
        ensure_ascii=False,
        allow_nan=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf8", errors="surrogateescape")


def make_session(key=KEY, scheme="hmac-sha256", packer=compact_sorted_packer, session=CLIENT_SESSION):
    s = Session(key=key, signature_scheme=scheme, session=session, username="vector")
    s.pack = packer
    return s


def header(msg_type, msg_id, session=CLIENT_SESSION, date="2026-11-28T16:14:26.123456Z", **extra):
    h = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": "vector",
        "session": session,
        "date": date,
        "version": "5.3",
    }
    h.update(extra)
    return h


def plain(value):
    """A reference dict as JSON would carry it: dates back to ISO strings, bytes to base64."""
    return json.loads(json.dumps(value, default=json_default))


def reference_decode(session, frames):
    """Decode frames exactly as jupyter_client does; returns (identities, message dict)."""
    idents, fed = session.feed_identities(list(frames), copy=True)
    return idents, session.deserialize(fed, content=True, copy=True)


def hexes(frames):
    return [bytes(f).hex() for f in frames]


def expected_from(idents, msg):
    return {
        "identities_hex": hexes(idents),
        "header": plain(msg["header"]),
        "parent_header": plain(msg["parent_header"]),
        "metadata": plain(msg["metadata"]),
        "content": plain(msg["content"]),
        "buffers_hex": hexes(msg["buffers"]),
    }


def build(session, msg_type, content, hdr, parent=None, metadata=None, idents=None, buffers=None):
    """A message made by the reference Session: its signed frames and its dict."""
    msg = session.msg(msg_type, content=content, parent=parent, header=hdr, metadata=metadata or {})
    frames = session.serialize(msg, ident=idents) + list(buffers or [])
    return msg, frames


# ---------------------------------------------------------------------------------------------
# ZeroMQ multipart vectors

UNICODE_TEXT = (
    "caf\u00e9 \u2603 \u4e2d\u6587 \U0001f600 e\u0301 "  # Latin-1, BMP, CJK, astral, combining mark
    "quote\" backslash\\ slash/ tab\t newline\n cr\r ctrl\x01\x1f del\x7f nul\x00"
)


def zmq_positive():
    vectors = []

    def add(name, description, session, msg_type, content, hdr, channel, parent=None, metadata=None,
            idents=None, buffers=None, byte_identical=True):
        msg, frames = build(session, msg_type, content, hdr, parent, metadata, idents, buffers)
        receiver = Session(key=session.key, signature_scheme=session.signature_scheme, session=KERNEL_SESSION)
        got_idents, decoded = reference_decode(receiver, frames)
        expected = expected_from(got_idents, decoded)
        if byte_identical:
            # Only meaningful when the reference's JSON is what a sorted, compact writer produces.
            for i, part in enumerate(("header", "parent_header", "metadata", "content")):
                raw = frames[len(got_idents) + 2 + i]
                if compact_sorted_packer(expected[part]) != raw:
                    sys.exit(f"{name}: {part} does not round-trip through plain JSON byte for byte")
        vectors.append({
            "name": name,
            "description": description,
            "key": session.key.decode(),
            "signature_scheme": session.signature_scheme,
            "channel": channel,
            "json_layout": "compact-sorted" if byte_identical else "jupyter_client-7-default",
            "encode_byte_identical": byte_identical,
            "frames_hex": hexes(frames),
            "expected": expected,
        })
        return msg

    s256 = make_session()
    request = add(
        "execute_request", "client to kernel on shell, hmac-sha256, no identities", s256, "execute_request",
        {"code": "print('hello')", "silent": False, "store_history": True, "user_expressions": {},
         "allow_stdin": False, "stop_on_error": True},
        header("execute_request", "5d2c6a1e-8f3b4c7d9e0a1b2c3d4e5f60_1_0"), "shell")

    kernel = make_session(session=KERNEL_SESSION)
    add("execute_reply", "kernel to client with a parent header and a routing identity", kernel, "execute_reply",
        {"status": "ok", "execution_count": 7, "user_expressions": {}, "payload": []},
        header("execute_reply", "a1b2c3d4-e5f60718293a4b5c6d7e8f90_9_1", session=KERNEL_SESSION,
               date="2026-11-28T16:14:26.654321Z"),
        "shell", parent=request["header"], metadata={"started": "2026-11-28T16:14:26.200000Z",
                                                   "dependencies_met": True, "engine": "e-1"},
        idents=[CLIENT_SESSION.encode()])

    add("iopub_stream_unicode", "IOPub stream with a topic frame and text that needs escapes and UTF-8",
        kernel, "stream", {"name": "stdout", "text": UNICODE_TEXT},
        header("stream", "a1b2c3d4-e5f60718293a4b5c6d7e8f90_9_2", session=KERNEL_SESSION,
               date="2026-11-28T16:14:26.700001Z"),
        "iopub", parent=request["header"], idents=[b"stream.stdout"])

    add("iopub_status_two_identities", "IOPub status with a kernel topic frame and a second identity",
        kernel, "status", {"execution_state": "idle"},
        header("status", "a1b2c3d4-e5f60718293a4b5c6d7e8f90_9_3", session=KERNEL_SESSION,
               date="2026-11-28T16:14:26.800002Z"),
        "iopub", parent=request["header"], idents=[b"kernel.a1b2.status", b"\x00\x80\xff"])

    s512 = make_session(scheme="hmac-sha512")
    add("comm_msg_buffers_sha512", "comm message with two binary buffers (unsigned by the protocol), hmac-sha512",
        s512, "comm_msg", {"comm_id": "c0ffee", "data": {"method": "update", "buffer_paths": [["value"], ["x"]]}},
        header("comm_msg", "m-comm-1"), "shell", buffers=[bytes(range(256)), b""])

    add("display_data_numbers_sha3", "numbers, nesting, null and booleans, hmac-sha3_256",
        make_session(scheme="hmac-sha3_256"), "display_data",
        {"data": {"text/plain": "x", "application/json": {"ints": [0, -1, 2**53, 2**63 - 1, -(2**63)],
                                                           "floats": [0.5, -2.25, 1e-07, 1.5e+300, 3.0, 0.1],
                                                           "null": None, "t": True, "f": False, "empty": {},
                                                           "deep": [[[[{"k": [1]}]]]]}},
         "metadata": {}, "transient": {"display_id": "d1"}},
        header("display_data", "m-display-1", subshell_id=None, x_vendor_field={"kept": [1, "two"]}), "iopub")

    add("inspect_request_blake2b", "hmac-blake2b, a hashlib name OpenSSL spells differently",
        make_session(scheme="hmac-blake2b"), "inspect_request", {"code": "len", "cursor_pos": 3, "detail_level": 0},
        header("inspect_request", "m-inspect-1"), "shell")

    add("kernel_info_unsigned", "empty key: the signature frame is empty", make_session(key=b""),
        "kernel_info_request", {}, header("kernel_info_request", "m-info-1"), "shell")

    add("input_request_stdin", "stdin channel, kernel to client, sha1", make_session(scheme="hmac-sha1",
        session=KERNEL_SESSION), "input_request", {"prompt": "name? \u00bf", "password": False},
        header("input_request", "m-input-1", session=KERNEL_SESSION), "stdin", parent=request["header"],
        idents=[CLIENT_SESSION.encode()])

    add("invalid_utf8_replaced", "content that is not UTF-8 (raw bytes, as a kernel's surrogateescape output "
        "gives): decoded with U+FFFD per maximal ill-formed subsequence, as jupyter_client does",
        make_session(session=KERNEL_SESSION), "stream",
        b'{"name":"stdout","text":"a\xffb\xe2\x82c\xed\xa0\x80d\xc0\xafe\xf4\x90\x80\x80f\xf0\x9f\x98g\xe2\x82"}',
        header("stream", "m-utf8-1", session=KERNEL_SESSION), "iopub", idents=[b"stream.stdout"],
        byte_identical=False)

    add("reference_default_layout", "jupyter_client 7.4.9's own packer (insertion order, ', ' separators): "
        "decode must verify the bytes as received, not a re-serialisation",
        make_session(packer=json_packer), "execute_request",
        {"code": "x = {'a': 1}\nx", "silent": False, "store_history": True, "user_expressions": {},
         "allow_stdin": True, "stop_on_error": False},
        header("execute_request", "m-default-1"), "shell", metadata={"z": 1, "a": UNICODE_TEXT},
        byte_identical=False)
    return vectors


def zmq_negative():
    cases = []

    def add(name, description, expected_error, sequence, key=KEY, scheme="hmac-sha256", channel="shell"):
        receiver = Session(key=key, signature_scheme=scheme, session=KERNEL_SESSION)
        for frames in sequence[:-1]:
            reference_decode(receiver, frames)  # must succeed
        try:
            reference_decode(receiver, sequence[-1])
        except Exception as e:  # noqa: BLE001 - any failure of the reference is what we record
            reference_error = f"{type(e).__name__}: {e}"
        else:
            sys.exit(f"negative vector {name}: the reference accepted it")
        cases.append({
            "name": name,
            "description": description,
            "key": key.decode(),
            "signature_scheme": scheme,
            "channel": channel,
            "sequence_hex": [hexes(f) for f in sequence],
            "expected_error": expected_error,
            "reference_error": reference_error,
        })

    s = make_session()
    _, good = build(s, "execute_request", {"code": "1"}, header("execute_request", "neg-1"))
    _, good2 = build(s, "execute_request", {"code": "2"}, header("execute_request", "neg-2"))
    delim_at = good.index(DELIM)

    add("wrong_key", "signed with another key", "signature_mismatch",
        [build(make_session(key=OTHER_KEY), "execute_request", {"code": "1"}, header("execute_request", "neg-3"))[1]])
    add("truncated_signature", "the signature loses its last two hex digits", "signature_mismatch",
        [good[:delim_at + 1] + [good[delim_at + 1][:-2]] + good[delim_at + 2:]])
    add("uppercase_signature", "the right digest in upper-case hex", "signature_mismatch",
        [good[:delim_at + 1] + [good[delim_at + 1].upper()] + good[delim_at + 2:]])
    add("tampered_content", "content changed after signing", "signature_mismatch",
        [good[:-1] + [b'{"code":"import os"}']])
    add("unsigned_with_key", "an empty signature where a key is set", "unsigned_message",
        [good[:delim_at + 1] + [b""] + good[delim_at + 2:]])
    add("replay_pair", "the same signed frames twice: the second is a replay", "replayed_message", [good, good])
    add("replay_after_other", "a replay with another message in between", "replayed_message", [good, good2, good])
    add("missing_delimiter", "no <IDS|MSG> frame", "malformed_message",
        [good[:delim_at] + good[delim_at + 1:]])
    add("too_few_frames_unsigned", "four frames after the delimiter, no key", "malformed_message",
        [build(make_session(key=b""), "status", {}, header("status", "neg-4"))[1][:-1]], key=b"")
    # The reference checks the signature before the frame count, so it reports a bad signature here;
    # kernelgate checks the structure first and reports the missing frame.
    add("too_few_frames_signed", "four frames after the delimiter, with a key", "malformed_message", [good[:-1]])

    def resigned(parts, session=s):
        """Frames with the given JSON parts, correctly signed: only the content is wrong."""
        return [DELIM, session.sign(parts)] + parts

    hdr = compact_sorted_packer(header("execute_request", "neg-5"))
    add("bad_json_content", "signed, but the content is not JSON", "malformed_message",
        [resigned([hdr, b"{}", b"{}", b'{"code": '])])
    add("bad_json_header", "signed, but the header is not JSON", "malformed_message",
        [resigned([b"{'single': 'quotes'}", b"{}", b"{}", b"{}"])])
    add("header_not_object", "signed, but the header is a JSON array", "malformed_message",
        [resigned([b'["msg_id","msg_type"]', b"{}", b"{}", b"{}"])])
    add("header_without_msg_type", "signed, but the header has no msg_type", "malformed_message",
        [resigned([b'{"msg_id":"x","version":"5.3"}', b"{}", b"{}", b"{}"])])
    return cases


# ---------------------------------------------------------------------------------------------
# WebSocket vectors, made by jupyter_server's own functions


class _ReserializeHost:
    """The one attribute jupyter_server's ZMQStreamHandler._reserialize_reply reads."""

    def __init__(self, session):
        self.session = session


def ws_vectors():
    s = make_session(session=KERNEL_SESSION)
    receiver = Session(key=KEY, session=CLIENT_SESSION)
    request_hdr = header("execute_request", "ws-req-1")
    samples = [
        ("status_iopub", "iopub", "status", {"execution_state": "busy"}, [], {}),
        ("stream_unicode", "iopub", "stream", {"name": "stderr", "text": UNICODE_TEXT}, [], {"m": 1}),
        ("execute_reply_shell", "shell", "execute_reply",
         {"status": "ok", "execution_count": 1, "user_expressions": {}, "payload": []}, [], {"engine": "e"}),
        ("comm_msg_buffers", "iopub", "comm_msg", {"comm_id": "c1", "data": {"buffer_paths": [["a"]]}},
         [b"\x00\x01\x02\xff", b"second buffer"], {}),
        ("input_request_stdin", "stdin", "input_request", {"prompt": ">", "password": True}, [], {}),
        ("control_reply", "control", "interrupt_reply", {"status": "ok"}, [], {}),
    ]
    v1, legacy_binary, legacy_text = [], [], []
    for i, (name, channel, msg_type, content, buffers, metadata) in enumerate(samples):
        hdr = header(msg_type, f"ws-{i}", session=KERNEL_SESSION, date=f"2026-11-28T16:20:0{i}.10000{i}Z")
        msg, frames = build(s, msg_type, content, hdr, parent=request_hdr, metadata=metadata, buffers=buffers)
        idents, fed = s.feed_identities(frames)
        parts = fed[1:]  # what jupyter_server hands serialize_msg_to_ws_v1: after the signature

        frame = serialize_msg_to_ws_v1(parts, channel)
        ref_channel, ref_parts = deserialize_msg_from_ws_v1(frame)
        assert ref_channel == channel and ref_parts == parts
        decoded = receiver.deserialize([receiver.sign(parts[:4])] + parts, content=True)
        expected = expected_from([], decoded)
        del expected["identities_hex"]
        expected["channel"] = channel
        v1.append({"name": name, "description": f"{msg_type} on {channel}, jupyter_server serialize_msg_to_ws_v1",
                   "frame_hex": frame.hex(), "encode_byte_identical": True, "expected": expected})

        # Legacy: what jupyter_server 1.23 sends a client that did not ask for v1.
        out = ZMQStreamHandler._reserialize_reply(_ReserializeHost(Session(key=KEY)), frames, channel=channel)
        if isinstance(out, bytes):
            back = deserialize_binary_message(out)
            assert back["channel"] == channel
            legacy_binary.append({"name": name, "description": f"{msg_type} with buffers, jupyter_server "
                                  "_reserialize_reply / serialize_binary_message", "frame_hex": out.hex(),
                                  "encode_byte_identical": False, "expected": expected})
        else:
            legacy_text.append({"name": name, "description": f"{msg_type}, jupyter_server _reserialize_reply "
                                "(json.dumps)", "frame_text": out, "encode_byte_identical": False,
                                "expected": expected})

    # A client's legacy binary message as jupyter_server's serialize_binary_message writes it.
    client = make_session()
    msg = client.msg("comm_msg", content={"comm_id": "c2", "data": {}}, header=header("comm_msg", "ws-client-1"),
                     metadata={})
    msg["channel"] = "shell"
    msg["buffers"] = [b"client buffer"]
    frame = serialize_binary_message(msg)
    back = deserialize_binary_message(frame)
    expected = {"header": plain(back["header"]), "parent_header": plain(back["parent_header"]),
                "metadata": plain(back["metadata"]), "content": plain(back["content"]),
                "buffers_hex": hexes(back["buffers"]), "channel": "shell"}
    legacy_binary.append({"name": "client_comm_msg", "description": "client-side legacy binary message",
                          "frame_hex": frame.hex(), "encode_byte_identical": False, "expected": expected})

    good_v1 = bytes.fromhex(v1[0]["frame_hex"])
    negative = []

    def neg(name, protocol, kind, payload, what):
        negative.append({"name": name, "protocol": protocol, "kind": kind,
                         "frame_hex": payload.hex() if isinstance(payload, bytes) else payload.encode().hex(),
                         "expected_error": "malformed_message", "why": what})

    neg("v1_truncated", "v1", "binary", good_v1[:-5], "the last part is cut short")
    neg("v1_no_offsets", "v1", "binary", good_v1[:6], "shorter than the offset count")
    neg("v1_huge_count", "v1", "binary", (2**62).to_bytes(8, "little") + good_v1[8:], "more offsets than bytes")
    neg("v1_text_frame", "v1", "text", good_v1, "v1 messages travel in binary frames")
    neg("v1_unknown_channel", "v1", "binary",
        serialize_msg_to_ws_v1([compact_sorted_packer(header("status", "x")), b"{}", b"{}", b"{}"], "nosuch"),
        "a channel that does not exist")
    neg("legacy_text_not_json", "legacy", "text", "{\"header\": ", "not JSON")
    neg("legacy_text_no_content", "legacy", "text",
        json.dumps({"header": header("status", "x"), "parent_header": {}, "metadata": {}, "channel": "iopub"}),
        "no content")
    neg("legacy_binary_bad_offset", "legacy", "binary", (1).to_bytes(4, "big") + (999).to_bytes(4, "big") + b"{}",
        "an offset past the end")
    return {"v1": v1, "legacy_binary": legacy_binary, "legacy_text": legacy_text, "negative": negative}


def write(name, payload):
    text = json.dumps(payload, indent=1, ensure_ascii=True, sort_keys=False) + "\n"
    (HERE / name).write_text(text, encoding="ascii")
    print(f"wrote {HERE / name}")


def main():
    about = {
        "generated_by": "protocol/generate_vectors.py",
        "reference": {
            "jupyter_client": jupyter_client.__version__,
            "jupyter_server": jupyter_server.__version__,
            "python": sys.version.split()[0],
        },
    }
    write("zmq_vectors.json", {**about, "vectors": zmq_positive(), "negative": zmq_negative()})
    write("ws_vectors.json", {**about, **ws_vectors()})


if __name__ == "__main__":
    main()
