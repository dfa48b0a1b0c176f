"""Replay: request events from a file (or a topic's time range) through the in-process runner.

Writes ``alerts.jsonl``, ``rejects.jsonl``, ``metrics.json`` and ``report.html`` into the report
directory. Events are re-ordered into event time within a buffer; the run is deterministic for a
given input and configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from models.config import Settings
from models.events import Reject, RequestEvent, parse_event
from models.pipeline import Pipeline, ordered
from streams.evaluation import Evaluator
from streams.files import open_write, read_lines
from streams.logs import get_logger, where_raised

log = get_logger("distillguard.replay")

Raw = tuple[str, bytes]  # (where it came from, e.g. "file.jsonl:12" or "requests[3]@120", bytes)


@dataclass
class ReplayResult:
    events: int = 0
    rejects: int = 0
    alerts: int = 0
    skipped_out_of_range: int = 0
    seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    alert_ids: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def file_source(path: str | Path) -> Iterator[Raw]:
    name = Path(path).name
    for lineno, line in read_lines(path):
        yield f"{name}:{lineno}", line


def _parsed(
    raws: Iterable[Raw],
    rejects: Callable[[str, Reject], None],
    t_from: float | None,
    t_to: float | None,
    result: ReplayResult,
) -> Iterator[RequestEvent]:
    for where, raw in raws:
        ev = parse_event(raw)
        if isinstance(ev, Reject):
            rejects(where, ev)
            continue
        if (t_from is not None and ev.ts < t_from) or (t_to is not None and ev.ts >= t_to):
            result.skipped_out_of_range += 1
            continue
        yield ev


def replay(
    raws: Iterable[Raw],
    settings: Settings,
    report_dir: str | Path,
    labels: dict[str, str] | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
    progress: bool = True,
    total: int | None = None,
    report: bool = True,
    reorder_window: int = 10_000,
) -> ReplayResult:
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(settings)
    evaluator = Evaluator(labels) if labels is not None else None
    result = ReplayResult()
    alerts_fh = open_write(out / "alerts.jsonl")
    rejects_fh = open_write(out / "rejects.jsonl")
    alert_log: list[dict[str, Any]] = []  # compact copy for the report's plots

    def on_reject(where: str, r: Reject) -> None:
        pipeline.reject(r, where)
        result.rejects += 1
        row = r.to_dict()
        row["source"] = where
        rejects_fh.write(orjson.dumps(row) + b"\n")
        if result.rejects <= 20 or result.rejects % 1000 == 0:
            log.warning("event rejected", source=where, reason=r.reason, rejects=result.rejects)

    def on_internal_error(ev: RequestEvent, exc: Exception) -> None:
        reason = f"internal error: {where_raised(exc)}"
        pipeline.counters["internal_errors"] += 1
        result.rejects += 1
        row = Reject(reason, orjson.dumps(ev.to_dict())).to_dict()  # the rejects file's row
        row["source"] = f"event_id={ev.event_id}"
        rejects_fh.write(orjson.dumps(row) + b"\n")
        log.error("event failed", event_id=ev.event_id, reason=reason)

    started = time.perf_counter()
    bar = _Progress(progress, total)
    try:
        for ev in ordered(_parsed(raws, on_reject, t_from, t_to, result), window=reorder_window):
            assert isinstance(ev, RequestEvent)
            result.events += 1
            if evaluator is not None:
                evaluator.observe_event(ev.account_id, ev.ts)
            try:
                alerts = pipeline.process(ev)
            except Exception as exc:  # one event that meets a defect does not end the run
                on_internal_error(ev, exc)
                continue
            for alert in alerts:
                result.alerts += 1
                result.alert_ids.append(alert["alert_id"])
                alerts_fh.write(orjson.dumps(alert) + b"\n")
                alert_log.append(
                    {
                        "ts": alert["ts"],
                        "severity": alert["severity"],
                        "subject_type": alert["subject_type"],
                        "accounts": alert["accounts"],
                        "score": alert["score"],
                    }
                )
                if evaluator is not None:
                    evaluator.observe_alert(alert)
            if result.events % 5000 == 0:
                bar.update(result.events, time.perf_counter() - started, result.alerts)
    finally:
        alerts_fh.close()
        rejects_fh.close()
        bar.close(result.events, time.perf_counter() - started, result.alerts)
    result.seconds = time.perf_counter() - started
    result.counters = dict(pipeline.counters)
    metrics: dict[str, Any] = {
        "events": result.events,
        "rejects": result.rejects,
        "alerts": result.alerts,
        "skipped_out_of_range": result.skipped_out_of_range,
        "events_per_s": round(result.events_per_s, 1),
        "config_hash": pipeline.config_hash,
        "counters": result.counters,
        "linker": pipeline.linker.linker.stats(),
    }
    if evaluator is not None:
        metrics.update(evaluator.metrics())
    result.metrics = metrics
    (out / "metrics.json").write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2))
    if report:
        from streams.report import write_report

        scores = {acct: st.score for stage in pipeline.accounts for acct, st in stage.states.items()}
        write_report(out / "report.html", metrics, alert_log, scores, labels or {})
    log.info(
        "replay finished",
        events=result.events,
        alerts=result.alerts,
        rejects=result.rejects,
        events_per_s=round(result.events_per_s),
        report_dir=str(out),
    )
    return result


class _Progress:
    """A Rich progress bar with events/s; silent when disabled or not on a terminal."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self.p: Any = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(
            TextColumn("[bold]replay"),
            BarColumn(),
            TextColumn("{task.completed:,} events"),
            TextColumn("{task.fields[rate]:,.0f} ev/s"),
            TextColumn("{task.fields[alerts]:,} alerts"),
            TimeElapsedColumn(),
            transient=False,
        )
        self.task = self.p.add_task("replay", total=total, rate=0.0, alerts=0)
        self.p.start()

    def update(self, n: int, elapsed: float, alerts: int) -> None:
        if self.p is not None:
            self.p.update(self.task, completed=n, rate=n / elapsed if elapsed > 0 else 0.0, alerts=alerts)

    def close(self, n: int, elapsed: float, alerts: int) -> None:
        if self.p is not None:
            self.update(n, elapsed, alerts)
            self.p.stop()
