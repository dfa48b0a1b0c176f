"""Garbage-collector settings of the distillguard process (every CLI command).

Each event allocates a few short-lived objects, and the stages keep many long-lived ones
(account and cluster states). With CPython's default thresholds the cyclic collector runs every
700 net allocations and takes 5-10% of replay time (``bench/replay_throughput.py``). Reference
counting frees almost everything here, the collector only has to find the rare cycles, so it can
run far less often: a larger first generation, and start-up objects moved out of its way.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def tune_for_throughput() -> None:
    """Collect the young generation every 50,000 allocations and never rescan start-up objects."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
