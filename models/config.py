"""Settings for every stage: one validated tree, from defaults, a YAML file and the environment.

Precedence (lowest to highest): the defaults below (the tuned settings), a YAML file, then
``DISTILLGUARD_*`` environment variables, nested with ``__``
(``DISTILLGUARD_POLICY__MEDIUM=45``). Errors name the setting and the problem.

>>> s = load_settings(overrides={"policy": {"medium": 50}})
>>> s.policy.medium
50.0
>>> len(s.config_hash())
12
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountSettings(_Strict):
    """Per-account model."""

    fading: float = Field(0.05, gt=0, lt=1, description="EW weight of a new event (River fading_factor)")
    summary_every: int = Field(25, ge=1, description="send a summary to the cluster stage every N events")
    summary_first: int = Field(3, ge=1, description="also send summaries for each of the first N events")
    template_systematic_uses: int = Field(
        2, ge=1, description="uses of one template before it counts as a link attribute"
    )
    template_driven_share: float = Field(
        0.3, ge=0, le=1, description="share of reused-template requests that makes an account template-driven"
    )
    max_rotations: int = Field(
        12, ge=1, le=255, description="new values per link attribute reported before it counts as rotating"
    )
    score_every: int = Field(4, ge=1, description="re-score an account every N events")
    min_events: int = Field(12, ge=1, description="events before an account alone can be alerted")
    young_days: float = Field(14.0, ge=0, description="an account younger than this is 'new'")
    anomaly_weight: float = Field(8.0, ge=0, description="points from the population anomaly model")
    hst_trees: int = Field(10, ge=1)
    hst_height: int = Field(6, ge=1)
    hst_window: int = Field(500, ge=10)
    # Points for each piece of evidence (sum is capped at 100 by the policy).
    w_elicit: float = 22.0
    w_rubric: float = 10.0
    w_single_turn: float = 8.0
    w_template_reuse: float = 12.0
    w_long_output: float = 8.0
    w_regular_timing: float = 8.0
    w_young: float = 10.0
    w_round_the_clock: float = 6.0
    w_volume: float = 8.0


class LinkerSettings(_Strict):
    """Weights of shared attribute kinds and the counts above which a value stops linking."""

    threshold: float = Field(1.0, gt=0, description="pair evidence needed to merge two accounts")
    max_holders_kept: int = Field(48, ge=2, description="holders kept per value for pair checks")
    max_values_per_account: int = Field(48, ge=4)
    established_template: int = Field(
        3, ge=1, description="systematic users after which a template links first-time users"
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "payment": 1.0,
            "system_prompt": 0.7,
            "template_cot": 1.0,
            "template": 0.5,
            "ip24": 0.5,
            "ip48": 0.5,
            "asn_ua": 0.35,
        }
    )
    # A value held by <= soft accounts links at full weight, > hard accounts not at all.
    soft_cap: dict[str, int] = Field(
        default_factory=lambda: {
            "payment": 2000,
            "system_prompt": 400,
            "template_cot": 400,
            "template": 400,
            "ip24": 8,
            "ip48": 8,
            "asn_ua": 6,
        }
    )
    hard_cap: dict[str, int] = Field(
        default_factory=lambda: {
            "payment": 10000,
            "system_prompt": 4000,
            "template_cot": 4000,
            "template": 4000,
            "ip24": 40,
            "ip48": 40,
            "asn_ua": 30,
        }
    )

    @model_validator(mode="after")
    def _caps(self) -> LinkerSettings:
        for kind, soft in self.soft_cap.items():
            hard = self.hard_cap.get(kind)
            if hard is None or hard < soft:
                raise ValueError(f"linker.hard_cap.{kind} must exist and be >= soft_cap.{kind}")
        return self


class ClusterSettings(_Strict):
    """Per-cluster model."""

    min_members: int = Field(3, ge=2, description="smallest cluster that can be alerted")
    full_size: int = Field(20, ge=2, description="members at which the size evidence saturates")
    burst_window_days: float = Field(2.0, gt=0, description="creation-burst window")
    eval_every_s: float = Field(30.0, ge=0, description="re-score a cluster at most this often")
    anomaly_weight: float = Field(6.0, ge=0)
    w_size: float = 14.0
    w_burst: float = 14.0
    w_template_overlap: float = 16.0
    w_elicit: float = 16.0
    w_single_turn: float = 6.0
    w_young: float = 8.0
    w_member_score: float = 16.0
    w_volume: float = 6.0


class PolicySettings(_Strict):
    """Score to severity bands, hysteresis, cool-down and recommended actions."""

    low: float = Field(35.0, ge=0, le=100)
    medium: float = Field(55.0, ge=0, le=100)
    high: float = Field(70.0, ge=0, le=100)
    critical: float = Field(85.0, ge=0, le=100)
    hysteresis: float = Field(8.0, ge=0, description="score must drop this far below a band to leave it")
    cooldown_s: float = Field(21600.0, ge=0, description="event-time seconds between repeats of one band")
    member_update_s: float = Field(60.0, ge=0, description="a flagged cluster re-alerts new members at most this often")
    account_max_score: float = Field(
        69.0, ge=0, le=100, description="an account alone never scores above this (no suspend)"
    )
    top_reasons: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> PolicySettings:
        if not self.low <= self.medium <= self.high <= self.critical:
            raise ValueError("policy bands must satisfy low <= medium <= high <= critical")
        return self


class KafkaSettings(_Strict):
    bootstrap_servers: str = "localhost:9092"
    requests_topic: str = "requests"
    deadletter_topic: str = "requests.deadletter"
    links_topic: str = "distillguard.links"
    membership_topic: str = "distillguard.membership"
    summaries_topic: str = "distillguard.summaries"
    alerts_topic: str = "alerts"
    actions_topic: str = "enforcement.actions"
    alerts_deadletter_topic: str = "alerts.deadletter"
    partitions: int = Field(6, ge=1)
    replication_factor: int = Field(1, ge=1)
    retention_ms: int = Field(-1, ge=-1, description="retention of the data topics (-1 = keep: replay reads history)")


class WorkerSettings(_Strict):
    app_id: str = "distillguard"
    data_dir: str = "var/worker"
    store: Literal["auto", "rocksdb", "memory"] = Field(
        "auto", description="table store: RocksDB (rocksdict), memory, or auto (RocksDB where rocksdict installs)"
    )
    batch_size: int = Field(5000, ge=1, description="messages per agent batch (state is written back once per batch)")
    batch_within_s: float = Field(0.1, gt=0, description="longest wait to fill a batch (bounds alert latency)")
    population_save_s: float = Field(5.0, gt=0, description="how often the worker saves population models")
    web_port: int = Field(6066, ge=0)


class Settings(BaseSettings):
    """Root settings. Validated on load; ``config_hash`` identifies the detection settings."""

    model_config = SettingsConfigDict(
        env_prefix="DISTILLGUARD_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    account: AccountSettings = AccountSettings()
    linker: LinkerSettings = LinkerSettings()
    cluster: ClusterSettings = ClusterSettings()
    policy: PolicySettings = PolicySettings()
    kafka: KafkaSettings = KafkaSettings()
    worker: WorkerSettings = WorkerSettings()
    log_prompts: bool = Field(False, description="allow prompt text in logs and alerts (off by default)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the YAML file (passed as init kwargs).
        return (env_settings, init_settings)

    def detection_dict(self) -> dict[str, Any]:
        """The settings that change what is detected (not where data flows)."""
        return self.model_dump(include={"account", "linker", "cluster", "policy"})

    def config_hash(self) -> str:
        raw = orjson.dumps(self.detection_dict(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(raw).hexdigest()[:12]


class SettingsError(ValueError):
    """A settings file or variable is invalid; the message names the setting."""


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load settings from an optional YAML file, then overrides, then the environment."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"settings file {path} must hold a mapping at the top level")
        data = loaded
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
