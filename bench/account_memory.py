"""Bytes per account state: memory (tracemalloc) and pickled size, on accounts fed real traffic.

    python bench/account_memory.py [--accounts 20000]

Feeds a simulation through the account stage, then measures (a) the traced memory of the state
objects rebuilt from pickles and (b) the mean pickled size. Budget: 1,024 bytes per account.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.account import AccountState
from models.config import load_settings
from models.events import RequestEvent, parse_event
from models.pipeline import AccountStage
from streams.simulator import Simulator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20000)
    ap.add_argument("--duration", default=6 * 3600, type=float)
    args = ap.parse_args()
    import orjson

    stage = AccountStage(load_settings())
    sim = Simulator(args.accounts, 4, args.duration, seed=3)
    for ev, _ in sim.events():
        e = parse_event(orjson.dumps(ev))
        assert isinstance(e, RequestEvent)
        stage.process(e)
    blobs = [pickle.dumps(st) for st in stage.states.values()]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    states: list[AccountState] = [pickle.loads(b) for b in blobs]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    n = len(states)
    in_memory = (after - before) / n
    pickled = statistics.mean(len(b) for b in blobs)
    print(f"accounts: {n:,}")
    print(f"bytes per account state in memory: {in_memory:,.0f} (budget 1,024)")
    print(f"bytes per account state pickled:   {pickled:,.0f}")
    print(f"10 million accounts would take about {in_memory * 1e7 / 2**30:.1f} GiB of state")
    if in_memory > 1024:
        sys.exit("over budget")


if __name__ == "__main__":
    main()
