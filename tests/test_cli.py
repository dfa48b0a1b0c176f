from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from models.config import SettingsError, load_settings
from streams.cli import main
from streams.simulator import Simulator


def test_simulate_is_deterministic_and_writes_gzip_and_labels(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    for out in (a, b):
        assert (
            main(
                [
                    "simulate",
                    "--accounts",
                    "300",
                    "--campaigns",
                    "2",
                    "--duration",
                    "2h",
                    "--seed",
                    "5",
                    "--out",
                    str(out),
                    "--labels-out",
                    str(out) + ".labels",
                    "--quiet",
                ]
            )
            == 0
        )
    ra, rb = gzip.decompress(a.read_bytes()), gzip.decompress(b.read_bytes())
    assert ra == rb and ra.count(b"\n") > 500
    labels = [orjson.loads(x) for x in Path(str(a) + ".labels").read_bytes().splitlines()]
    assert labels and {"account_id", "campaign_id"} <= set(labels[0])
    ts = [orjson.loads(x)["ts"] for x in ra.splitlines()]
    assert ts == sorted(ts)


def test_simulator_has_hard_negatives_and_evasive_campaigns() -> None:
    sim = Simulator(3000, 4, 3600, seed=1)
    kinds = {a.kind for a in sim.accounts}
    assert {"benign", "org", "university", "enterprise", "eval", "campaign"} <= kinds
    uni = [a.ip.rsplit(".", 1)[0] for a in sim.accounts if a.kind == "university"]
    assert len(uni) >= 100 and len(set(uni)) == 1
    evasions = {e for c in sim.campaigns for e in c.evasions}
    assert {"rotate_ip", "distinct_payment", "aged", "low_and_slow"} <= evasions | {"low_and_slow"}
    assert sum(1 for a in sim.accounts if a.kind != "campaign") + sum(c.size for c in sim.campaigns) >= 3000


def test_replay_writes_report_and_metrics(tmp_path: Path, small_sim_file: tuple[Path, Path]) -> None:
    events, labels = small_sim_file
    bad = tmp_path / "with-bad.jsonl"
    bad.write_bytes(events.read_bytes() + b'{"not": "an event"}\n\xff\xfe\n')
    out = tmp_path / "report"
    assert main(["replay", "--input", str(bad), "--labels", str(labels), "--report-dir", str(out), "--quiet"]) == 0
    for name in ("alerts.jsonl", "rejects.jsonl", "metrics.json", "report.html"):
        assert (out / name).stat().st_size > 0, name
    m = orjson.loads((out / "metrics.json").read_bytes())
    assert m["rejects"] == 2 and m["campaigns_detected"] == 3
    assert 0 <= m["median_share_before_alert"] <= 0.2
    rejects = [orjson.loads(x) for x in (out / "rejects.jsonl").read_bytes().splitlines()]
    assert [r["reason"].split(":")[0] for r in rejects] == ["event_id", "(root)"]
    assert rejects[0]["source"].startswith("with-bad.jsonl:")
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3


def test_replay_time_range(tmp_path: Path, small_sim_file: tuple[Path, Path]) -> None:
    events, _ = small_sim_file
    first = orjson.loads(events.read_bytes().split(b"\n", 1)[0])["ts"]
    out = tmp_path / "r"
    assert (
        main(
            [
                "replay",
                "--input",
                str(events),
                "--from",
                str(first),
                "--to",
                str(first + 3600),
                "--report-dir",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    m = orjson.loads((out / "metrics.json").read_bytes())
    assert m["skipped_out_of_range"] > 0 and m["events"] > 0


def test_sweep_ranks_settings(tmp_path: Path, small_sim_file: tuple[Path, Path]) -> None:
    events, labels = small_sim_file
    grid = tmp_path / "grid.yaml"
    grid.write_text("cluster.min_members: [3, 100000]\naccount.min_events: [12, 100000]\n")
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "replay",
                "--input",
                str(events),
                "--labels",
                str(labels),
                "--report-dir",
                str(out),
                "--sweep",
                str(grid),
                "--workers",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    rows = orjson.loads((out / "sweep.json").read_bytes())
    assert len(rows) == 4
    assert rows[0]["settings"]["cluster.min_members"] == 3
    silent = next(r for r in rows if r["settings"] == {"cluster.min_members": 100000, "account.min_events": 100000})
    assert rows[0]["campaign_recall"] > 0.9 and silent["campaign_recall"] == 0
    assert (out / "sweep.md").read_text().startswith("| rank |")


def test_settings_from_yaml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("policy:\n  medium: 50\nlinker:\n  threshold: 1.2\n")
    s = load_settings(cfg)
    assert s.policy.medium == 50 and s.linker.threshold == 1.2
    monkeypatch.setenv("DISTILLGUARD_POLICY__MEDIUM", "52")
    assert load_settings(cfg).policy.medium == 52
    assert load_settings(cfg).config_hash() != load_settings().config_hash()


def test_invalid_settings_name_the_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("policy:\n  medium: 500\n  nonsense: 1\n")
    with pytest.raises(SettingsError) as exc:
        load_settings(cfg)
    assert "policy.medium" in str(exc.value) and "policy.nonsense" in str(exc.value)
    cfg.write_text("policy:\n  low: 60\n  medium: 50\n")
    with pytest.raises(SettingsError, match="low <= medium"):
        load_settings(cfg)
    assert main(["replay", "--input", "x", "--report-dir", str(tmp_path), "--config", str(cfg)]) == 2


def test_logs_are_json_and_never_carry_prompt_text(capsys: pytest.CaptureFixture[str]) -> None:
    from streams.logs import configure, get_logger

    configure(fmt="json")
    get_logger("t").warning("event rejected", prompt="my secret prompt", reason="x: bad")
    configure(fmt="json", allow_prompts=True)
    get_logger("t").warning("debugging", prompt="allowed by log_prompts")
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert lines[0]["prompt"] == "[redacted]" and lines[0]["reason"] == "x: bad"
    assert lines[1]["prompt"] == "allowed by log_prompts"
    configure(fmt="json")
