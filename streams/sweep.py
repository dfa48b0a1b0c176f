"""Grid search over settings: each point replays the same input in its own process.

GRID.yaml maps dotted setting names to lists of values, for example::

    policy.medium: [50, 55, 60]
    linker.threshold: [0.9, 1.0]

Points are ranked: first those that meet the targets (no benign account recommended for
suspension, at most 0.1% of benign accounts alerted at medium or above), then by campaign recall,
then by the median share of a campaign's requests made before its accounts were alerted.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import yaml

from models.config import SettingsError, load_settings


def load_grid(path: str | Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data:
        raise SettingsError(f"{path}: a grid is a mapping of setting -> list of values")
    keys = list(data)
    values = []
    for k in keys:
        v = data[k]
        values.append(v if isinstance(v, list) else [v])
    points = []
    for combo in itertools.product(*values):
        over: dict[str, Any] = {}
        for key, value in zip(keys, combo, strict=True):
            node = over
            parts = str(key).split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        points.append(over)
    return points


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _run_point(args: tuple[int, dict[str, Any], str | None, str, dict[str, str], str]) -> dict[str, Any]:
    from streams.replay import file_source, replay

    idx, over, config, input_path, labels, out_dir = args
    settings = load_settings(config, overrides=over)
    res = replay(
        file_source(input_path),
        settings,
        Path(out_dir) / f"point-{idx:03d}",
        labels=labels,
        progress=False,
        report=False,
    )
    m = res.metrics or {}
    return {
        "point": idx,
        "settings": _flat(over),
        "campaign_recall": m.get("campaign_recall"),
        "campaign_precision": m.get("campaign_precision"),
        "benign_flagged_share": m.get("benign_flagged_share"),
        "benign_suspended_count": m.get("benign_suspended_count"),
        "campaigns_detected": m.get("campaigns_detected"),
        "median_share_before_alert": m.get("median_share_before_alert"),
        "config_hash": m.get("config_hash"),
    }


def rank_key(r: dict[str, Any]) -> tuple[Any, ...]:
    ok = (r["benign_suspended_count"] or 0) == 0 and (r["benign_flagged_share"] or 0.0) <= 0.001
    return (
        not ok,
        -(r["campaign_recall"] or 0.0),
        r["median_share_before_alert"] or 1.0,
        r["benign_flagged_share"] or 0.0,
    )


def sweep(
    grid_path: str,
    input_path: str,
    labels: dict[str, str],
    out_dir: str,
    config: str | None,
    workers: int | None = None,
) -> list[dict[str, Any]]:
    points = load_grid(grid_path)
    for over in points:  # fail fast on a bad grid, before any process starts
        load_settings(config, overrides=over)
    jobs = [(i, over, config, input_path, labels, out_dir) for i, over in enumerate(points)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(_run_point, jobs))
    rows.sort(key=rank_key)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "sweep.json").write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    lines = [
        "| rank | settings | recall | benign flagged | benign suspended | median before alert |",
        "|---|---|---|---|---|---|",
    ]
    for rank, r in enumerate(rows, 1):
        lines.append(
            f"| {rank} | {', '.join(f'{k}={v}' for k, v in r['settings'].items())} | "
            f"{r['campaign_recall']} | {r['benign_flagged_share']} | {r['benign_suspended_count']} | "
            f"{r['median_share_before_alert']} |"
        )
    (Path(out_dir) / "sweep.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows
