"""Bundled text corpora for the simulator (see ``streams/data/NOTICE.md`` for sources)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import orjson


def _jsonl(name: str) -> list[dict[str, object]]:
    raw = resources.files("streams.data").joinpath(name).read_bytes()
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


@cache
def benign_prompts() -> tuple[str, ...]:
    """Real user-style instructions (AlpacaEval)."""
    return tuple(str(r["instruction"]) for r in _jsonl("alpaca_eval_805_instructions.jsonl"))


@cache
def role_prompts() -> tuple[str, ...]:
    """Real role prompts (awesome-chatgpt-prompts), used as system prompts and openers."""
    return tuple(str(r["prompt"]) for r in _jsonl("awesome_chatgpt_prompts.jsonl"))


@cache
def tasks() -> tuple[tuple[str, str], ...]:
    """(instruction, input) pairs from Self-Instruct: raw material for extraction campaigns."""
    out: list[tuple[str, str]] = []
    for name in ("self_instruct_seed_tasks.jsonl", "self_instruct_user_oriented_instructions.jsonl"):
        for r in _jsonl(name):
            instances = r.get("instances") or [{}]
            first = instances[0] if isinstance(instances, list) and instances else {}
            inp = str(first.get("input", "")) if isinstance(first, dict) else ""
            out.append((str(r["instruction"]), inp[:600]))
    return tuple(out)
