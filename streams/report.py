"""The tuning report: one self-contained HTML page with embedded matplotlib plots."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def score_plot(scores: dict[str, float], labels: dict[str, str]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    benign = [s for a, s in scores.items() if a not in labels]
    camp = [s for a, s in scores.items() if a in labels]
    bins = [i * 2.5 for i in range(41)]
    ax.hist(benign, bins=bins, alpha=0.6, label=f"benign ({len(benign):,})", color="tab:blue", log=True)
    if camp:
        ax.hist(camp, bins=bins, alpha=0.6, label=f"campaign ({len(camp):,})", color="tab:red", log=True)
    ax.set_xlabel("final account score")
    ax.set_ylabel("accounts (log)")
    ax.legend()
    ax.set_title("Account scores: benign vs campaign")
    return _png(fig)


def timeline_plot(alerts: list[dict[str, Any]], labels: dict[str, str]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sizes: dict[str, int] = defaultdict(int)
    for camp in labels.values():
        sizes[camp] += 1
    first: dict[str, float] = {}
    for a in alerts:
        if RANK.get(a["severity"], 0) >= 2:
            for acct in a["accounts"]:
                if acct in labels and acct not in first:
                    first[acct] = a["ts"]
    t0 = min((a["ts"] for a in alerts), default=0.0)
    for camp in sorted(sizes):
        ts = sorted(t for acct, t in first.items() if labels[acct] == camp)
        if not ts:
            continue
        xs = [(t - t0) / 3600 for t in ts]
        ys = [(i + 1) / sizes[camp] for i in range(len(ts))]
        ax.step(xs, ys, where="post", label=camp)
    ax.set_xlabel("hours since first alert")
    ax.set_ylabel("share of accounts alerted")
    ax.set_ylim(0, 1.05)
    ax.set_title("Detection timeline per campaign (medium or above)")
    if first:
        ax.legend(fontsize=8)
    return _png(fig)


def alerts_per_hour_plot(alerts: list[dict[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if alerts:
        t0 = min(a["ts"] for a in alerts)
        hours = int(max(a["ts"] for a in alerts) - t0) // 3600 + 1
        bottom = [0] * hours
        for sev, color in (("low", "#9ecae1"), ("medium", "#fdae6b"), ("high", "#e6550d"), ("critical", "#a50f15")):
            counts = [0] * hours
            for a in alerts:
                if a["severity"] == sev:
                    counts[int(a["ts"] - t0) // 3600] += 1
            ax.bar(range(hours), counts, bottom=bottom, color=color, label=sev)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.legend(fontsize=8)
    ax.set_xlabel("hour")
    ax.set_ylabel("alerts")
    ax.set_title("Alerts per hour by severity")
    return _png(fig)


def write_report(
    path: Path, metrics: dict[str, Any], alerts: list[dict[str, Any]], scores: dict[str, float], labels: dict[str, str]
) -> None:
    rows = []
    for key in (
        "events",
        "rejects",
        "alerts",
        "events_per_s",
        "campaign_recall",
        "campaign_precision",
        "benign_flagged_share",
        "benign_suspended_count",
        "campaigns_detected",
        "median_share_before_alert",
        "config_hash",
    ):
        if key in metrics:
            rows.append(f"<tr><th>{key}</th><td>{html.escape(str(metrics[key]))}</td></tr>")
    camp_rows = []
    for camp, c in (metrics.get("campaigns") or {}).items():
        camp_rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    camp,
                    c["accounts"],
                    c["accounts_alerted"],
                    c["detected"],
                    c["requests"],
                    _pct(c["share_requests_before_alert"]),
                    _dur(c["time_to_first_alert_s"]),
                )
            )
            + "</tr>"
        )
    plots = [score_plot(scores, labels), alerts_per_hour_plot(alerts)]
    if labels:
        plots.insert(1, timeline_plot(alerts, labels))
    imgs = "".join(f'<img alt="plot" src="data:image/png;base64,{p}"/>' for p in plots)
    camp_table = ""
    if camp_rows:
        camp_table = (
            "<h2>Campaigns</h2><table><tr><th>campaign</th><th>accounts</th><th>alerted</th>"
            "<th>detected</th><th>requests</th><th>requests before alert</th>"
            "<th>time to first alert</th></tr>" + "".join(camp_rows) + "</table>"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>distillguard replay report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}img{{display:block;margin:1em 0}}</style></head>
<body><h1>distillguard replay report</h1><table>{"".join(rows)}</table>{camp_table}<h2>Plots</h2>{imgs}
</body></html>"""
    path.write_text(page, encoding="utf-8")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _dur(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 60:.1f} min"
