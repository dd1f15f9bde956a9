"""The peer of bench_docker: what AutoGen's DockerCommandLineCodeExecutor does, with docker-py.

Reads commands on stdin, one per line, and answers each with one line of JSON holding the time
it took, measured here (so the pipe to the benchmark is not counted):
  start               what AutoGen's start() does: docker.from_env() (version negotiation), then
                      create and start a container (entrypoint /bin/sh with a tty, work dir bound at
                      /workspace, auto_remove) and wait until it runs
  block <lang> <code> write tmp_code_<sha256>.<lang> into the work dir and exec_run
                      ["timeout", "60", <interpreter>, file] in the container (code is JSON-quoted)
  stop                AutoGen's stop: container.stop() (the daemon's default grace period)
  quit
Network mode is "none" because the test daemon runs without a bridge.
"""
import hashlib
import json
import os
import sys
import time
import uuid

import docker

IMAGE = sys.argv[1]
WORK_DIR = sys.argv[2]
LANG_TO_CMD = {"python": "python", "sh": "sh", "bash": "bash"}

client = None
container = None


def start():
    global client, container
    t0 = time.perf_counter()
    client = docker.from_env()
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        client.images.pull(IMAGE)
    container = client.containers.create(
        IMAGE, name=f"autogen-code-exec-{uuid.uuid4()}", entrypoint="/bin/sh", tty=True, detach=True,
        auto_remove=True, volumes={WORK_DIR: {"bind": "/workspace", "mode": "rw"}}, working_dir="/workspace",
        network_mode="none")
    container.start()
    while True:
        container.reload()
        if container.status == "running":
            break
        time.sleep(0.1)
    return time.perf_counter() - t0


def block(lang, code):
    t0 = time.perf_counter()
    name = f"tmp_code_{hashlib.sha256(code.encode()).hexdigest()}.{lang}"
    with open(os.path.join(WORK_DIR, name), "w", encoding="utf-8") as f:
        f.write(code)
    result = container.exec_run(["timeout", "60", LANG_TO_CMD[lang], name])
    output = result.output.decode("utf-8")
    if result.exit_code == 124:
        output += "\n Timeout"
    elapsed = time.perf_counter() - t0
    return elapsed, result.exit_code, output


def stop():
    global container
    t0 = time.perf_counter()
    try:
        container.stop()
    except docker.errors.NotFound:
        pass
    container = None
    return time.perf_counter() - t0


for line in sys.stdin:
    parts = line.rstrip("\n").split(" ", 2)
    if parts[0] == "start":
        print(json.dumps({"ms": start() * 1000}), flush=True)
    elif parts[0] == "block":
        elapsed, code, output = block(parts[1], json.loads(parts[2]))
        print(json.dumps({"ms": elapsed * 1000, "exit_code": code, "output": output}), flush=True)
    elif parts[0] == "stop":
        print(json.dumps({"ms": stop() * 1000}), flush=True)
    else:
        break
if container is not None:
    stop()
