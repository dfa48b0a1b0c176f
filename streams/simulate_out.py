"""Writes a simulation to a JSON Lines file or produces it to a Kafka topic."""

from __future__ import annotations

from typing import Any

import orjson
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from streams.files import open_write, write_jsonl
from streams.simulator import Simulator


def _progress(enabled: bool) -> Any:
    return Progress(
        TextColumn("[bold]simulate"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def to_file(sim: Simulator, out: str, labels_out: str | None, progress: bool = True) -> int:
    total = sim.total_events()
    n = 0
    with _progress(progress) as bar, open_write(out) as fh:
        task = bar.add_task("simulate", total=total)
        for ev, _camp in sim.events():
            fh.write(orjson.dumps(ev) + b"\n")
            n += 1
            if n % 10000 == 0:
                bar.update(task, completed=n)
        bar.update(task, completed=n)
    if labels_out:
        write_jsonl(labels_out, sim.labels())
    return n


def to_kafka(
    sim: Simulator, bootstrap: str, topic: str, labels_out: str | None, speed: float = 0.0, progress: bool = True
) -> int:
    from streams.kafka_io import produce_events

    total = sim.total_events()
    with _progress(progress) as bar:
        task = bar.add_task("simulate", total=total)
        n = produce_events(
            bootstrap,
            topic,
            (ev for ev, _ in sim.events()),
            speed=speed,
            on_progress=lambda k: bar.update(task, completed=k),
        )
        bar.update(task, completed=n)
    if labels_out:
        write_jsonl(labels_out, sim.labels())
    return n
