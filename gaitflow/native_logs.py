"""Keeps TensorFlow's native start-up chatter off the terminal.

TensorFlow's C++ runtime writes to file descriptor 2 directly, before Python's logging or
`TF_CPP_MIN_LOG_LEVEL` can act on some of it (the oneDNN notice is printed before absl
initialises), and Dask workers inherit the descriptor. So the filter works on the descriptor:
fd 2 becomes a pipe, and a thread copies every line to the real stderr except the known
notices below. Real errors, Python tracebacks and everything else pass through unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from typing import Iterator

# Info and warning lines of the C++ runtime (absl format: I0000 00:00:1796.12  5661 port.cc:153] ...),
# absl's own notice, the CPU-feature hint, and the error-level line oneDNN prints for every
# boolean op on CPUs without AVX-512 (an information, not a failure).
NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w.]+:\d+\] "
    rb"|E\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w.]+:\d+\] oneDNN supports "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)"
)


def is_noise(line: bytes) -> bool:
    """Whether a stderr line is one of TensorFlow's native notices."""
    return NOISE.match(line) is not None


@contextlib.contextmanager
def native_notices_filtered() -> Iterator[None]:
    """Within the block, fd 2 (and that of every child process started in it) drops `NOISE` lines.

    Does nothing when stderr has no file descriptor (e.g. under some test runners).
    """
    try:
        target = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    original = os.dup(target)
    read_end, write_end = os.pipe()
    os.dup2(write_end, target)
    os.close(write_end)
    copier = threading.Thread(target=_copy_lines, args=(read_end, original), name="native-log-filter", daemon=True)
    copier.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, target)  # our end of the pipe closes; the copier ends when children's do too
        # Children that outlive the block keep the pipe open; the copier then runs on as a daemon.
        copier.join(timeout=2.0)
        if not copier.is_alive():
            os.close(original)


def _copy_lines(read_end: int, destination: int) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as source:
        while chunk := source.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
            if kept:
                os.write(destination, kept)
    if pending and not is_noise(pending):
        os.write(destination, pending)
