"""The ``distillguard`` command line.

Settings come from ``--config FILE`` (YAML) and ``DISTILLGUARD_*`` environment variables
(nested with ``__``, e.g. ``DISTILLGUARD_POLICY__MEDIUM=50``); the defaults are the tuned ones.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from models.config import Settings, SettingsError, load_settings


def _time(text: str) -> float:
    """Epoch seconds or ISO 8601 (``2026-03-02T00:00:00Z``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: use epoch seconds or ISO 8601") from None


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    run_demo(_settings(args), accounts=args.accounts, campaigns=args.campaigns, duration=args.duration, seed=args.seed)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from streams.simulate_out import to_file, to_kafka
    from streams.simulator import Simulator

    sim = Simulator(args.accounts, args.campaigns, args.duration, seed=args.seed)
    if args.out:
        n = to_file(sim, args.out, args.labels_out, progress=not args.quiet)
    else:
        settings = _settings(args)
        n = to_kafka(
            sim,
            args.bootstrap,
            args.topic or settings.kafka.requests_topic,
            args.labels_out,
            speed=args.speed,
            progress=not args.quiet,
        )
    print(
        f"wrote {n:,} events ({len(sim.campaigns)} campaigns, {sum(c.size for c in sim.campaigns):,} "
        f"campaign accounts)",
        file=sys.stderr,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.evaluation import load_labels
    from streams.replay import file_source, replay

    settings = _settings(args)
    labels = load_labels(args.labels) if args.labels else None
    if args.sweep:
        if not args.input:
            raise SystemExit("--sweep needs --input FILE")
        if labels is None:
            raise SystemExit("--sweep needs --labels to rank the settings")
        from streams.sweep import sweep

        rows = sweep(args.sweep, args.input, labels, args.report_dir, args.config, workers=args.workers)
        _print_sweep(rows)
        return 0
    if args.input:
        source: Any = file_source(args.input)
    else:
        from streams.kafka_io import topic_range_source

        source = topic_range_source(args.bootstrap, args.topic or settings.kafka.requests_topic, args.t_from, args.t_to)
    res = replay(
        source, settings, args.report_dir, labels=labels, t_from=args.t_from, t_to=args.t_to, progress=not args.quiet
    )
    m = res.metrics or {}
    print(
        f"{res.events:,} events, {res.rejects:,} rejects, {res.alerts:,} alerts, "
        f"{res.events_per_s:,.0f} events/s -> {args.report_dir}",
        file=sys.stderr,
    )
    if labels is not None:
        print(
            f"campaigns detected {m.get('campaigns_detected')}/{len(m.get('campaigns', {}))}, "
            f"recall {m.get('campaign_recall')}, benign flagged {m.get('benign_flagged_share')}, "
            f"benign suspended {m.get('benign_suspended_count')}, "
            f"median share before alert {m.get('median_share_before_alert')}",
            file=sys.stderr,
        )
    return 0


def _print_sweep(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="sweep (best first)")
    for col in ("rank", "settings", "recall", "benign flagged", "benign suspended", "median before alert"):
        t.add_column(col)
    for i, r in enumerate(rows, 1):
        t.add_row(
            str(i),
            ", ".join(f"{k}={v}" for k, v in r["settings"].items()),
            str(r["campaign_recall"]),
            str(r["benign_flagged_share"]),
            str(r["benign_suspended_count"]),
            str(r["median_share_before_alert"]),
        )
    Console(stderr=True).print(t)


def build_parser() -> argparse.ArgumentParser:
    from streams.simulator import parse_duration

    def duration(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    p = argparse.ArgumentParser(
        prog="distillguard",
        description="Streaming detector of LLM model-distillation campaigns. Settings: --config YAML "
        "and DISTILLGUARD_* environment variables (nested with __).",
    )
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="YAML settings file (defaults are the tuned settings)")

    d = sub.add_parser("demo", help="simulated traffic through the in-process pipeline, live view, no Kafka")
    with_config(d)
    d.add_argument("--accounts", type=int, default=4000)
    d.add_argument("--campaigns", type=int, default=3)
    d.add_argument("--duration", type=duration, default=8 * 3600.0, help="simulated time (e.g. 8h)")
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("simulate", help="labelled synthetic traffic to a file or a topic")
    with_config(s)
    s.add_argument("--accounts", type=int, required=True, help="accounts in all (benign and campaign)")
    s.add_argument("--campaigns", type=int, default=4, help="extraction campaigns")
    s.add_argument("--duration", type=duration, default=86400.0, help="simulated time: 90m, 24h, 2d")
    s.add_argument("--seed", type=int, default=0)
    dest = s.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", help="JSON Lines file (gzip when it ends in .gz)")
    dest.add_argument("--bootstrap", help="Kafka bootstrap servers: produce to --topic")
    s.add_argument("--topic", help="topic to produce to (default: the requests topic)")
    s.add_argument(
        "--speed", type=float, default=0.0, help="with --bootstrap: 0 = as fast as possible, X = X times event time"
    )
    s.add_argument("--labels-out", help="labels file (JSON Lines of account_id, campaign_id)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_simulate)

    r = sub.add_parser("replay", help="replay a file or a topic's time range; report and tuning")
    with_config(r)
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="JSON Lines file of request events (.gz ok)")
    src.add_argument("--bootstrap", help="Kafka bootstrap servers: read --topic between --from and --to")
    r.add_argument("--topic", help="topic to read (default: the requests topic)")
    r.add_argument("--from", dest="t_from", type=_time, help="start of the range (epoch s or ISO 8601)")
    r.add_argument("--to", dest="t_to", type=_time, help="end of the range, exclusive")
    r.add_argument("--labels", help="labels file: adds precision/recall and campaign timing to metrics.json")
    r.add_argument("--report-dir", required=True, help="writes alerts.jsonl, rejects.jsonl, metrics.json, report.html")
    r.add_argument("--sweep", metavar="GRID.yaml", help="try a grid of settings in parallel processes")
    r.add_argument("--workers", type=int, help="processes for --sweep (default: all cores)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_replay)

    from streams.commands import add_commands  # worker, enforce, actions, topics

    add_commands(sub, with_config)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from streams.gcpolicy import tune_for_throughput
    from streams.logs import configure

    configure()
    tune_for_throughput()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # log_prompts (YAML or DISTILLGUARD_LOG_PROMPTS) is the one setting that lets prompt text into logs
        configure(allow_prompts=load_settings(getattr(args, "config", None)).log_prompts)
        return int(args.func(args))
    except SettingsError as exc:
        print(f"distillguard: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:  # includes PolicyError
        print(f"distillguard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
