"""Replay throughput on one core: events/s through the in-process runner from a file.

    python bench/replay_throughput.py [--accounts 20000] [--campaigns 4] [--duration 24h]
                                      [--runs 3] [--events FILE]

By default the workload is the detection-core issue's acceptance scenario (``distillguard
simulate --accounts 20000 --campaigns 4 --duration 24h --seed 7``, 634,000 events), simulated to
a JSON Lines file first. Each run times the full replay (read, parse, validate, features, all
stages, alerts written) in this single process, pinned to one core, with the garbage-collector
policy of the ``distillguard`` command. Prints every run and the median (this VM's runs vary by
about 10%), and the share of parsing and features alone. ``--duration 6h`` gives a window in
which every account is new: linking and first summaries dominate, and it runs slower.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    ap.add_argument("--duration", default="24h")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", help="an existing events file to replay")
    args = ap.parse_args()
    tune_for_throughput()  # as the distillguard command does
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    tmp = tempfile.mkdtemp(prefix="dg-bench-")
    path = args.events
    if not path:
        path = os.path.join(tmp, "events.jsonl")
        print(f"simulating {args.accounts:,} accounts, {args.campaigns} campaigns, {args.duration} ...", flush=True)
        sim = Simulator(args.accounts, args.campaigns, parse_duration(args.duration), seed=7)
        to_file(sim, path, None, progress=False)
    # Split: parse + features alone.
    t = time.perf_counter()
    n = 0
    for _, raw in file_source(path):
        e = parse_event(raw)
        if not isinstance(e, Reject):
            extract(e)
        n += 1
    parse_s = time.perf_counter() - t
    rates = []
    for i in range(args.runs):
        res = replay(file_source(path), load_settings(), os.path.join(tmp, f"report{i}"), progress=False, report=False)
        rates.append(res.events_per_s)
        print(
            f"run {i + 1}: {res.events:,} events, {res.alerts:,} alerts, {res.events_per_s:,.0f} events/s", flush=True
        )
    median = statistics.median(rates)
    print(f"replay events/s on one core: {median:,.0f} (median of {len(rates)}; min {min(rates):,.0f})")
    per_event_us = 1e6 / median
    print(
        f"  read+parse+validate+features alone: {n / parse_s:,.0f} events/s "
        f"({parse_s / n * 1e6:.1f} us/event of {per_event_us:.1f})"
    )


if __name__ == "__main__":
    main()
