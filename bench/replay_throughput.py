"""Replay throughput on one core: events/s through the in-process runner from a file.

    python bench/replay_throughput.py [--accounts 20000] [--duration 6h] [--events FILE]

Simulates (unless --events is given) to a JSON Lines file, then times the full replay (read,
parse, validate, features, all stages, alerts written) in this single process. Also prints the
time split between parsing+features and the stages.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.config import load_settings
from models.events import Reject, parse_event
from models.features import extract
from streams.gcpolicy import tune_for_throughput
from streams.replay import file_source, replay
from streams.simulate_out import to_file
from streams.simulator import Simulator, parse_duration


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20000)
    ap.add_argument("--campaigns", type=int, default=4)
    ap.add_argument("--duration", default="6h")
    ap.add_argument("--events", help="an existing events file to replay")
    args = ap.parse_args()
    tune_for_throughput()  # as the distillguard command does
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    tmp = tempfile.mkdtemp(prefix="dg-bench-")
    path = args.events
    if not path:
        path = os.path.join(tmp, "events.jsonl")
        to_file(
            Simulator(args.accounts, args.campaigns, parse_duration(args.duration), seed=7), path, None, progress=False
        )
    # Split: parse + features alone.
    t = time.perf_counter()
    n = 0
    for _, raw in file_source(path):
        e = parse_event(raw)
        if not isinstance(e, Reject):
            extract(e)
        n += 1
    parse_s = time.perf_counter() - t
    res = replay(file_source(path), load_settings(), os.path.join(tmp, "report"), progress=False, report=False)
    print(f"events: {res.events:,}  alerts: {res.alerts:,}")
    print(f"replay events/s on one core: {res.events_per_s:,.0f}")
    print(
        f"  read+parse+validate+features alone: {n / parse_s:,.0f} events/s "
        f"({parse_s / n * 1e6:.1f} us/event of {res.seconds / res.events * 1e6:.1f})"
    )


if __name__ == "__main__":
    main()
