"""The peer of bench_kernel: jupyter_client's KernelManager + BlockingKernelClient on the same kernelspec.

usage: peer_kernel.py start                 one start-to-ready, printed as {"ms": x}
       peer_kernel.py rt N                  N `pass` round trips (request sent -> execute_reply and
                                            IOPub idle both received), printed as {"ms": [..]}
       peer_kernel.py stream BYTES ROUNDS   ROUNDS runs of code printing BYTES of stdout, each timed
                                            from request to completion, printed as {"ms": [..], "bytes": [..]}
Run with /usr/bin/python3 (Debian's jupyter_client). Kernel start-up for rt and stream is not timed.
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

KERNEL = "python3"


def stream_code(nbytes: int) -> str:
    return (
        "import sys\n"
        "_line = 'x' * 1023 + '\\n'\n"
        f"for _ in range({nbytes // 1024}):\n"
        "    sys.stdout.write(_line)\n"
        "sys.stdout.flush()\n"
    )


def main() -> None:
    mode = sys.argv[1]
    if mode == "start":
        t0 = time.perf_counter()
        km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)
        ms = (time.perf_counter() - t0) * 1000
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        print(json.dumps({"ms": ms}))
        return
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)
    try:
        if mode == "rt":
            n = int(sys.argv[2])
            for _ in range(20):  # warm-up
                kc.execute_interactive("pass", timeout=60, output_hook=lambda m: None)
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                kc.execute_interactive("pass", timeout=60, output_hook=lambda m: None)
                times.append((time.perf_counter() - t0) * 1000)
            print(json.dumps({"ms": times}))
        elif mode == "stream":
            nbytes, rounds = int(sys.argv[2]), int(sys.argv[3])
            code = stream_code(nbytes)
            times, sizes = [], []
            for _ in range(rounds):
                got = [0]

                def hook(msg, got=got):
                    if msg["header"]["msg_type"] == "stream":
                        got[0] += len(msg["content"]["text"])

                t0 = time.perf_counter()
                kc.execute_interactive(code, timeout=600, output_hook=hook)
                times.append((time.perf_counter() - t0) * 1000)
                sizes.append(got[0])
            print(json.dumps({"ms": times, "bytes": sizes}))
        else:
            raise SystemExit(f"unknown mode {mode}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    main()
