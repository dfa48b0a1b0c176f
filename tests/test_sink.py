"""The worker's output sink stops the process, without committing, when the broker refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streams.sink import EXIT_UNDELIVERABLE

REPO = Path(__file__).resolve().parents[1]


def test_undeliverable_outputs_stop_the_worker_with_exit_70() -> None:
    # Nothing listens on port 9: the message cannot be delivered within the drain timeout.
    code = (
        "from streams.sink import Sink\n"
        "s = Sink('127.0.0.1:9', drain_timeout_s=2.0)\n"
        "s.send('alerts', 0, b'k', b'v')\n"
        "s.drain()\n"
        "print('drained')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == EXIT_UNDELIVERABLE, p.stderr[-2000:]
    assert "drained" not in p.stdout
    assert "outputs not delivered" in p.stdout + p.stderr
