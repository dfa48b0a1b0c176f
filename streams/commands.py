"""CLI commands of the streaming runner: ``worker``, ``topics create``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from models.config import load_settings


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    settings = load_settings(args.config)
    run_worker(settings, bootstrap=args.bootstrap, data_dir=args.data_dir, web_port=args.web_port,
               loglevel=args.loglevel)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from streams.topics import create_topics, topic_specs

    settings = load_settings(args.config)
    result = create_topics(settings, args.bootstrap)
    for spec in topic_specs(settings):
        print(f"{result.get(spec.name, '?'):8} {spec.name:28} partitions={spec.partitions} "
              f"{','.join(f'{k}={v}' for k, v in spec.config.items())}  # {spec.purpose}")
    return 0


def add_commands(sub: Any, with_config: Any) -> None:
    w = sub.add_parser("worker", help="the Faust streaming worker (account, linker and cluster agents)")
    with_config(w)
    w.add_argument("--bootstrap", help="Kafka bootstrap servers (default: kafka.bootstrap_servers)")
    w.add_argument("--data-dir", help="local state directory (default: worker.data_dir)")
    w.add_argument("--web-port", type=int, help="port of /metrics (0 = off; default: worker.web_port)")
    w.add_argument("--loglevel", default="warning", help="Faust's own log level")
    w.set_defaults(func=cmd_worker)

    t = sub.add_parser("topics", help="Kafka topics")
    tsub = t.add_subparsers(dest="topics_command", required=True)
    c = tsub.add_parser("create", help="create every topic with its partitions and configs (idempotent)")
    with_config(c)
    c.add_argument("--bootstrap", help="Kafka bootstrap servers (default: kafka.bootstrap_servers)")
    c.set_defaults(func=cmd_topics)


if __name__ == "__main__":
    sys.exit(0)
