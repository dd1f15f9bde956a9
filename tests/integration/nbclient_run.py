"""Executes a notebook with nbclient (the reference implementation) for kernelgate's comparison tests.

usage: nbclient_run.py IN OUT [--allow-errors] [--timeout S]
Writes the executed notebook to OUT even when a cell fails; exits 1 on a cell error, 0 otherwise.
The kernel runs in IN's directory, as `jupyter nbconvert --execute` runs it.
"""
import os
import sys

import nbclient
import nbformat
from nbclient.exceptions import CellExecutionError


def main(argv):
    src, dst = argv[1], argv[2]
    allow_errors = "--allow-errors" in argv
    timeout = None
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
    nb = nbformat.read(src, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, allow_errors=allow_errors, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}})
    status = 0
    try:
        client.execute()
    except CellExecutionError:
        status = 1
    nbformat.write(nb, dst)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
