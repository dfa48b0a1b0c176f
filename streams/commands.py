"""CLI commands of the streaming side: ``worker``, ``enforce``, ``actions``, ``topics create``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from models.config import load_settings


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    settings = load_settings(args.config)
    run_worker(
        settings, bootstrap=args.bootstrap, data_dir=args.data_dir, web_port=args.web_port, loglevel=args.loglevel
    )
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from streams.topics import create_topics, topic_specs

    settings = load_settings(args.config)
    result = create_topics(settings, args.bootstrap)
    for spec in topic_specs(settings):
        print(
            f"{result.get(spec.name, '?'):8} {spec.name:28} partitions={spec.partitions} "
            f"{','.join(f'{k}={v}' for k, v in spec.config.items())}  # {spec.purpose}"
        )
    return 0


def cmd_enforce(args: argparse.Namespace) -> int:
    from streams.actions import EnforcementPolicy
    from streams.enforce import Enforcer

    settings = load_settings(args.config)
    policy = EnforcementPolicy.load(args.policy)
    if args.dry_run:
        from dataclasses import replace

        policy = replace(policy, dry_run=True)
    store = args.dsn or args.db
    enforcer = Enforcer(settings, policy, store, bootstrap=args.bootstrap, group=args.group, webhook=args.webhook)
    enforcer.install_signal_handlers()
    enforcer.run()
    return 0


def cmd_actions(args: argparse.Namespace) -> int:
    import orjson

    from streams.actions import ActionStore

    store = ActionStore(args.db)
    try:
        if args.actions_command == "list":
            rows = store.list_actions(args.status, args.limit)
            for r in rows:
                print(
                    f"{r['account_id']:24} {r['action']:9} {r['status']:8} score={r['score']:<6} "
                    f"subject={r['subject_id']} alert={r['alert_id']}"
                )
            print(f"{len(rows)} actions", file=sys.stderr)
        elif args.actions_command == "show":
            print(
                orjson.dumps(
                    {"current": store.current(args.account), "history": store.history(args.account)},
                    option=orjson.OPT_INDENT_2,
                ).decode()
            )
        else:
            rec = store.undo(args.account, args.by, args.why)
            print(orjson.dumps(rec).decode())
    finally:
        store.close()
    return 0


def add_commands(sub: Any, with_config: Any) -> None:
    w = sub.add_parser("worker", help="the Faust streaming worker (account, linker and cluster agents)")
    with_config(w)
    w.add_argument("--bootstrap", help="Kafka bootstrap servers (default: kafka.bootstrap_servers)")
    w.add_argument("--data-dir", help="local state directory (default: worker.data_dir)")
    w.add_argument("--web-port", type=int, help="port of /metrics (0 = off; default: worker.web_port)")
    w.add_argument("--loglevel", default="warning", help="Faust's own log level")
    w.set_defaults(func=cmd_worker)

    e = sub.add_parser("enforce", help="the enforcement consumer: alerts -> durable actions")
    with_config(e)
    e.add_argument("--bootstrap", help="Kafka bootstrap servers (default: kafka.bootstrap_servers)")
    e.add_argument("--policy", help="enforcement policy YAML (see README)")
    e.add_argument("--db", default="var/enforcement.sqlite3", help="SQLite action store (WAL mode)")
    e.add_argument(
        "--dsn",
        default=os.environ.get("DISTILLGUARD_ENFORCE_DSN"),
        help="PostgreSQL store (postgresql://...; env DISTILLGUARD_ENFORCE_DSN) instead of --db",
    )
    e.add_argument("--group", default="enforcement", help="consumer group")
    e.add_argument("--webhook", help="POST each action here (retries with backoff, Idempotency-Key header)")
    e.add_argument("--dry-run", action="store_true", help="record decisions without acting")
    e.set_defaults(func=cmd_enforce)

    a = sub.add_parser("actions", help="inspect and undo enforcement actions")
    asub = a.add_subparsers(dest="actions_command", required=True)
    lst = asub.add_parser("list", help="actions, newest first")
    lst.add_argument("--status", choices=["active", "held", "undone", "dry_run"])
    lst.add_argument("--limit", type=int, default=100)
    show = asub.add_parser("show", help="an account's action and its history")
    show.add_argument("account")
    undo = asub.add_parser("undo", help="take an action back (it stays undone against the same evidence)")
    undo.add_argument("account")
    undo.add_argument("--by", required=True, help="who undoes it")
    undo.add_argument("--why", required=True, help="why")
    for sp in (lst, show, undo):
        sp.add_argument(
            "--db",
            default=os.environ.get("DISTILLGUARD_ENFORCE_DSN", "var/enforcement.sqlite3"),
            help="SQLite path or postgresql:// DSN of the action store",
        )
        sp.set_defaults(func=cmd_actions)

    t = sub.add_parser("topics", help="Kafka topics")
    tsub = t.add_subparsers(dest="topics_command", required=True)
    c = tsub.add_parser("create", help="create every topic with its partitions and configs (idempotent)")
    with_config(c)
    c.add_argument("--bootstrap", help="Kafka bootstrap servers (default: kafka.bootstrap_servers)")
    c.set_defaults(func=cmd_topics)
