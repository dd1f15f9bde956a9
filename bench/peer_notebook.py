"""The peer of bench_notebook: nbclient executing a notebook file, timed inside one Python process.

Imports nbclient once, then reads one JSON object per line on stdin and answers each with one JSON
line on stdout:

  {"mode": "whole", "path": P}
      nbformat.read(P) and NotebookClient(nb, kernel_name="python3").execute(): kernel start,
      kernel_info, every cell, kernel shutdown. Answers {"total": s, "cells": n, "results": n,
      "stream_chars": n, "busy_ms": [...], "gap_ms": [...]} (see per_cell_timing).
  {"mode": "phased", "path": P}
      The same steps as NotebookClient.async_execute (nbclient 0.7.2), with clocks between them:
      "start" (entering async_setup_kernel: kernel started and ready), "execute" (kernel_info and
      every cell), "shutdown" (leaving it), and "execute_cpu", the CPU time this process used during
      "execute". Answers those plus "total", "cells", "results",
      "stream_chars", and per-cell "busy_ms" and "gap_ms" lists (see per_cell_timing).

Times are time.perf_counter() differences in seconds. Python start-up and the nbclient import are
outside every figure. The kernel runs in this process's working directory.

usage: peer_notebook.py   (run with /usr/bin/python3, which has nbclient)
"""
import json
import os
import resource
import sys
import time
from datetime import datetime

import nbformat
from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient


def output_shape(nb) -> dict:
    """What the run produced, independent of how stream text was split into messages."""
    results = stream_chars = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output["output_type"] == "execute_result":
                results += 1
            elif output["output_type"] == "stream":
                stream_chars += len(output["text"])
    return {"results": results, "stream_chars": stream_chars}


def cpu_seconds() -> float:
    """User and system CPU time of this process, all its threads (the kernel is another process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def kernel_clock(stamp: str) -> float:
    """A timing stamp (the kernel's header date, as nbclient records it) in seconds."""
    return datetime.fromisoformat(stamp).timestamp()


def per_cell_timing(nb) -> dict:
    """From the kernel's own clock, per code cell in order: "busy_ms" from its busy to its idle
    status, "gap_ms" from the idle of one cell to the busy of the next (the client's turnaround:
    taking in the end of a cell, sending the next request, the kernel receiving it)."""
    spans = []
    for cell in nb.cells:
        timing = cell.metadata.get("execution", {}) if cell.cell_type == "code" else {}
        if "iopub.status.busy" in timing and "iopub.status.idle" in timing:
            spans.append((kernel_clock(timing["iopub.status.busy"]), kernel_clock(timing["iopub.status.idle"])))
    busy = [(idle - start) * 1000 for start, idle in spans]
    gap = [(spans[i + 1][0] - spans[i][1]) * 1000 for i in range(len(spans) - 1)]
    return {"busy_ms": busy, "gap_ms": gap}


def executed_cells(nb) -> int:
    return sum(1 for cell in nb.cells if cell.cell_type == "code" and cell.get("execution_count"))


def run_whole(path: str) -> dict:
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3").execute()
    total = time.perf_counter() - start
    return {"total": total, "cells": executed_cells(nb), **output_shape(nb), **per_cell_timing(nb)}


async def run_phased(path: str) -> dict:
    t0 = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3")
    client.reset_execution_trackers()
    async with client.async_setup_kernel():
        t1 = time.perf_counter()
        cpu1 = cpu_seconds()
        # From here to t2: the body of NotebookClient.async_execute in nbclient 0.7.2.
        msg_id = await ensure_async(client.kc.kernel_info())
        info_msg = await client.async_wait_for_reply(msg_id)
        if info_msg is not None and "language_info" in info_msg["content"]:
            client.nb.metadata["language_info"] = info_msg["content"]["language_info"]
        for index, cell in enumerate(client.nb.cells):
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        client.set_widgets_metadata()
        t2 = time.perf_counter()
        cpu2 = cpu_seconds()
    t3 = time.perf_counter()
    return {"start": t1 - t0, "execute": t2 - t1, "shutdown": t3 - t2, "total": t3 - t0, "execute_cpu": cpu2 - cpu1,
            "cells": executed_cells(nb), **output_shape(nb), **per_cell_timing(nb)}


def main() -> None:
    # Answers go to the original stdout alone; fd 1 becomes stderr, so nothing a kernel started from
    # here writes to its inherited stdout can mix with them.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    phased = run_sync(run_phased)
    for line in sys.stdin:
        request = json.loads(line)
        if request["mode"] == "whole":
            answer = run_whole(request["path"])
        elif request["mode"] == "phased":
            answer = phased(request["path"])
        else:
            raise SystemExit(f"peer_notebook.py: unknown mode {request['mode']!r}")
        print(json.dumps(answer), file=answers, flush=True)


if __name__ == "__main__":
    main()
