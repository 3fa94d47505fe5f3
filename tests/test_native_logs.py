"""TensorFlow's native notices are dropped from stderr; everything else passes unchanged."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from gaitflow.native_logs import is_noise

NOTICES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796002583.252364    5661 port.cc:153] oneDNN custom operations are on. You may see slightly",
    "W0000 00:00:1796002583.409034    5661 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
    "E0000 00:00:1796002590.866182    5661 mkl_util.h:80] oneDNN supports DT_BOOL only on platforms with AVX-512.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
]
KEPT = [
    "E0000 00:00:1796002590.866182    5661 op_kernel.cc:1800] OP_REQUIRES failed: out of memory",
    "Traceback (most recent call last):",
    "gaitflow: error: /data/archive: no videos found",
    "I0000 is not a log line without the rest",
]


def test_the_known_notices_are_noise_and_real_errors_are_not():
    assert all(is_noise(line.encode()) for line in NOTICES)
    assert not any(is_noise(line.encode()) for line in KEPT)


def test_lines_from_this_process_and_its_children_are_filtered_at_the_descriptor():
    lines = NOTICES + KEPT
    script = textwrap.dedent(f"""
        import os, subprocess, sys
        from gaitflow.native_logs import native_notices_filtered
        lines = {lines!r}
        with native_notices_filtered():
            os.write(2, ("\\n".join(lines[:3]) + "\\n").encode())
            subprocess.run([sys.executable, "-c", "import os, sys; os.write(2, sys.argv[1].encode())",
                            "\\n".join(lines[3:]) + "\\n"], check=True)
            print("python stderr", file=sys.stderr)
        print("after the block", file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr.splitlines() == KEPT + ["python stderr", "after the block"]
