"""End-to-end figures on the real broker: one worker process.

    KAFKA_BOOTSTRAP_SERVERS=localhost:19092 python bench/kafka_e2e.py [--events 134000] [--rate 5000]

1. Throughput: produces --events request events as fast as possible to a fresh topic set, and
   times one worker process draining them (events/s, from the first to the last commit; the
   group's lag falls at each commit, so a run of several commit intervals keeps that step small).
2. Latency: produces at a fixed offered load (--rate events/s, paced on the wall clock) and
   measures request produced -> alert on the alerts topic, p50/p99 over the alerts seen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.kafka_io import DeliveryTracker, produce_raw, producer_config
from streams.simulator import Simulator
from tests.kafka_helpers import KafkaEnv


def simulate(n_accounts: int, hours: float, seed: int) -> list[bytes]:
    return [orjson.dumps(ev) for ev, _ in Simulator(n_accounts, 3, hours * 3600, seed=seed).events()]


def throughput(bootstrap: str, raws: list[bytes], tmp: Path) -> float:
    env = KafkaEnv(bootstrap, tmp, partitions=6, worker={})  # the worker's own batch settings
    try:
        env.produce(raws)
        t0 = time.time()
        env.start_worker("bench")
        lag0 = env.lag()
        first_progress = None
        while True:
            lag = env.lag()
            if first_progress is None and lag < lag0:
                first_progress = time.time()
            if lag == 0:
                break
            time.sleep(0.2)
        done = time.time()
        start = first_progress or t0
        print(f"worker start-up (join, recovery): {start - t0:.1f} s")
        return len(raws) / max(done - start, 1e-9)
    finally:
        env.stop_all()
        env.delete_topics()


def latency(bootstrap: str, raws: list[bytes], rate: float, tmp: Path) -> tuple[list[float], int]:
    env = KafkaEnv(bootstrap, tmp, partitions=6, worker={})  # the worker's own batch settings
    sent: dict[float, float] = {}
    got: list[float] = []
    stop = threading.Event()

    def consume() -> None:
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"lat-{env.prefix}", "auto.offset.reset": "earliest"})
        c.subscribe([env.k.alerts_topic])
        while not stop.is_set():
            for m in c.consume(500, timeout=0.2):
                if m.error() is None:
                    now = time.time()
                    ts = orjson.loads(m.value())["ts"]
                    if ts in sent:
                        got.append(now - sent[ts])
        c.close()

    try:
        env.start_worker("bench")
        time.sleep(12)  # join the group before the clock starts
        th = threading.Thread(target=consume, daemon=True)
        th.start()
        p = Producer(producer_config(bootstrap, **{"linger.ms": 2}))
        tracker = DeliveryTracker()
        t0 = time.time()
        for i, raw in enumerate(raws):
            due = t0 + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            d = orjson.loads(raw)
            sent[d["ts"]] = time.time()
            produce_raw(p, env.k.requests_topic, d["account_id"].encode(), raw, int(d["ts"] * 1000), tracker)
            p.poll(0)
        p.flush(30)
        env.wait_drained()
        time.sleep(2)
        stop.set()
        th.join()
        return got, len(raws)
    finally:
        env.stop_all()
        env.delete_topics()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=134000)
    ap.add_argument("--rate", type=float, default=5000.0)
    args = ap.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:19092")
    tmp = Path(tempfile.mkdtemp(prefix="dg-e2e-"))
    raws = simulate(3000, 8, 5)[: args.events]
    eps = throughput(bootstrap, raws, tmp)
    print(f"throughput through one worker process: {eps:,.0f} events/s ({len(raws):,} events)")
    lat_raws = raws[: int(args.rate * 12)]
    got, n = latency(bootstrap, lat_raws, args.rate, tmp)
    if got:
        q = statistics.quantiles(got, n=100)
        print(
            f"alert latency at {args.rate:,.0f} events/s offered ({n:,} events, {len(got):,} alerts): "
            f"p50 {statistics.median(got) * 1000:,.0f} ms, p99 {q[98] * 1000:,.0f} ms"
        )
    else:
        print("no alerts observed in the latency run")


if __name__ == "__main__":
    main()
