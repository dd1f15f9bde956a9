"""The peer of bench_local: what AutoGen 0.2's LocalCommandLineCodeExecutor does per python block.

Reads one JSON object per line on stdin ({"code": ...}), and for each: names the file
tmp_code_<sha256>.py, writes it, runs the interpreter on it with subprocess.run(capture_output=True,
text=True, timeout=60, env=copy of os.environ) in the work directory, joins stderr and stdout,
and prints {"seconds": <time of all that>, "exit_code": N} on one line.

usage: peer_local_runner.py WORK_DIR PYTHON
"""
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    work = Path(sys.argv[1])
    work.mkdir(exist_ok=True)
    python = sys.argv[2]
    for line in sys.stdin:
        code = json.loads(line)["code"]
        start = time.perf_counter()
        digest = hashlib.sha256(code.encode()).hexdigest()
        path = work / f"tmp_code_{digest}.py"
        path.write_text(code, encoding="utf-8")
        env = os.environ.copy()
        result = subprocess.run([python, str(path.absolute())], cwd=work, capture_output=True, text=True,
                                timeout=60, env=env, encoding="utf-8")
        output = result.stderr + result.stdout
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "exit_code": result.returncode, "bytes": len(output)}), flush=True)


if __name__ == "__main__":
    main()
