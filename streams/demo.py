"""The embedded demo: simulated traffic through the in-process pipeline with a live Rich view."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from models.config import Settings
from models.events import Reject, parse_event
from models.pipeline import Pipeline
from streams.evaluation import Evaluator
from streams.simulator import Simulator


def run_demo(
    settings: Settings,
    accounts: int = 4000,
    campaigns: int = 3,
    duration: float = 8 * 3600,
    seed: int = 7,
    console: Console | None = None,
    live: bool = True,
) -> dict[str, Any]:
    console = console or Console()
    sim = Simulator(accounts, campaigns, duration, seed=seed)
    labels = {r["account_id"]: r["campaign_id"] for r in sim.labels()}
    total = sim.total_events()
    pipeline = Pipeline(settings)
    evaluator = Evaluator(labels)
    newest: deque[dict[str, Any]] = deque(maxlen=6)
    started = time.perf_counter()
    n = 0

    def view() -> Group:
        elapsed = max(time.perf_counter() - started, 1e-9)
        head = Table.grid(padding=(0, 2))
        head.add_row(
            f"[bold]{n:,}[/] / {total:,} events",
            f"[bold]{n / elapsed:,.0f}[/] events/s",
            f"[bold]{pipeline.counters['alerts']:,}[/] alerts",
            f"[bold]{pipeline.counters['rejects']:,}[/] rejects",
        )
        alerts = Table(title="Newest alerts (medium or above)", expand=True)
        for col in ("severity", "subject", "accounts", "score", "action", "top reasons"):
            alerts.add_column(col, overflow="fold")
        for a in reversed(newest):
            reasons = "; ".join(f"{r['feature']}={r['value']}" for r in a["reasons"][:3])
            alerts.add_row(
                a["severity"],
                a["subject_id"],
                str(len(a["accounts"])),
                f"{a['score']:.0f}",
                a["recommended_action"],
                reasons,
            )
        clusters = Table(title="Largest clusters", expand=True)
        clusters.add_column("cluster")
        clusters.add_column("members", justify="right")
        for cid, size in _largest(pipeline):
            clusters.add_row(cid, f"{size:,}")
        return Group(head, alerts, clusters)

    with Live(view(), console=console, refresh_per_second=4, transient=False, auto_refresh=live) as screen:
        for ev, _camp in sim.events():
            parsed = parse_event(orjson.dumps(ev))
            n += 1
            if isinstance(parsed, Reject):
                pipeline.reject(parsed)
                continue
            evaluator.observe_event(parsed.account_id, parsed.ts)
            for alert in pipeline.process(parsed):
                evaluator.observe_alert(alert)
                if alert["severity"] != "low":
                    newest.append(alert)
            if n % 2000 == 0:
                screen.update(view())
        screen.update(view())
    m = evaluator.metrics()
    summary = Table(title="Summary", show_header=False)
    summary.add_row("events", f"{n:,} in {time.perf_counter() - started:.1f} s")
    summary.add_row("campaigns detected", f"{m['campaigns_detected']} / {len(m['campaigns'])}")
    summary.add_row("campaign accounts alerted", _pct(m["campaign_recall"]))
    summary.add_row(
        "benign accounts alerted",
        f"{_pct(m['benign_flagged_share'])} ({m['benign_flagged_count']} of {m['benign_accounts']:,})",
    )
    summary.add_row("median share of campaign requests before alert", _pct(m["median_share_before_alert"]))
    console.print(Panel(summary, title="distillguard demo"))
    return m


def _largest(pipeline: Pipeline, k: int = 5) -> list[tuple[str, int]]:
    sizes = [(cid, len(st.members)) for stage in pipeline.clusters for cid, st in stage.states.items()]
    return sorted(sizes, key=lambda x: -x[1])[:k]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"
