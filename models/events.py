"""RequestEvent: parse and validate one request event against ``request-event.schema.json``.

Validation is hand-written over the decoded dict (no JSON-Schema engine per event: it would cost
more than the whole detection). Every rejection carries a precise reason: the field and the
problem. Unknown fields are ignored. Parsing never raises on input bytes.

>>> ev = parse_event(b'{"event_id":"e1","ts":1.5,"account_id":"a","model":"m",'
...                  b'"prompt_tokens":3,"completion_tokens":9}')
>>> ev.account_id, ev.completion_tokens
('a', 9)
>>> r = parse_event(b'{"event_id":"e1","account_id":"a","model":"m"}')
>>> r.reason
'ts: required field missing'
"""

from __future__ import annotations

import math
from typing import Any

import orjson

MAX_EVENT_BYTES = 1 << 20  # largest message accepted (bigger than any valid event)

STATUSES = frozenset({"ok", "error", "rate_limited"})


class RequestEvent:
    """One validated request. Optional fields are ``None`` when absent."""

    __slots__ = (
        "account_created_ts",
        "account_id",
        "api_key_id",
        "asn",
        "completion_tokens",
        "country",
        "event_id",
        "ip",
        "latency_ms",
        "max_tokens",
        "messages",
        "model",
        "n",
        "org_id",
        "payment_fingerprint",
        "prompt",
        "prompt_fingerprint",
        "prompt_tokens",
        "status",
        "system_prompt",
        "temperature",
        "ts",
        "user_agent",
    )

    event_id: str
    ts: float
    account_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    org_id: str | None
    api_key_id: str | None
    account_created_ts: float | None
    ip: str | None
    asn: int | None
    country: str | None
    user_agent: str | None
    payment_fingerprint: str | None
    system_prompt: str | None
    prompt: str | None
    prompt_fingerprint: str | None
    messages: int | None
    max_tokens: int | None
    temperature: float | None
    n: int | None
    status: str | None
    latency_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    def __repr__(self) -> str:  # never shows prompt text
        return f"RequestEvent(event_id={self.event_id!r}, account_id={self.account_id!r}, ts={self.ts})"


class Reject:
    """A record that could not be used, with the reason (``field: problem``)."""

    __slots__ = ("raw", "reason")

    def __init__(self, reason: str, raw: bytes | None = None) -> None:
        self.reason = reason
        self.raw = raw

    def to_dict(self, keep_bytes: int = 512) -> dict[str, Any]:
        raw = self.raw or b""
        return {
            "reason": self.reason,
            "size": len(raw),
            "raw": raw[:keep_bytes].decode("utf-8", "replace"),
        }

    def __repr__(self) -> str:
        return f"Reject({self.reason!r})"


class _Invalid(Exception):
    pass


def _is_num(v: Any) -> bool:
    t = type(v)
    return (t is int or t is float) and math.isfinite(v)


def _number(d: dict[str, Any], name: str, minimum: float, required: bool) -> float | None:
    v = d.get(name)
    if (type(v) is float or type(v) is int) and minimum <= v < math.inf:
        return float(v)
    if v is None:
        if required and name not in d:
            raise _Invalid(f"{name}: required field missing")
        if required:
            raise _Invalid(f"{name}: must be a number, got null")
        return None
    if not _is_num(v):
        raise _Invalid(f"{name}: must be a finite number, got {type(v).__name__}")
    if v < minimum:
        raise _Invalid(f"{name}: must be >= {minimum}, got {v}")
    return float(v)


def validate(d: Any) -> RequestEvent:
    """Validate a decoded JSON value; raise ``ValueError`` with ``field: problem``."""
    try:
        return _validate(d)
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


def _opt_str(d: dict[str, Any], name: str, maxlen: int) -> str | None:
    v = d.get(name)
    if v is None or (type(v) is str and len(v) <= maxlen):
        return v
    if type(v) is not str:
        raise _Invalid(f"{name}: must be a string or null, got {type(v).__name__}")
    raise _Invalid(f"{name}: longer than {maxlen} characters ({len(v)})")


def _opt_int(d: dict[str, Any], name: str, minimum: int) -> int | None:
    v = d.get(name)
    if v is None or (type(v) is int and v >= minimum):
        return v
    if type(v) is not int:
        raise _Invalid(f"{name}: must be an integer or null, got {type(v).__name__}")
    raise _Invalid(f"{name}: must be >= {minimum}, got {v}")


def _req_str(d: dict[str, Any], name: str, maxlen: int) -> str:
    v = d.get(name)
    if type(v) is str and 0 < len(v) <= maxlen:
        return v
    if name not in d:
        raise _Invalid(f"{name}: required field missing")
    if type(v) is not str:
        raise _Invalid(f"{name}: must be a string, got {type(v).__name__}")
    raise _Invalid(f"{name}: length must be 1..{maxlen}, got {len(v)}")


def _req_count(d: dict[str, Any], name: str) -> int:
    v = d.get(name)
    if type(v) is int and v >= 0:
        return v
    if name not in d:
        raise _Invalid(f"{name}: required field missing")
    if type(v) is not int:
        raise _Invalid(f"{name}: must be an integer, got {type(v).__name__}")
    raise _Invalid(f"{name}: must be >= 0, got {v}")


def _validate(d: Any) -> RequestEvent:
    # Straight-line checks: the common (valid) case costs one type test per field.
    if type(d) is not dict:
        raise _Invalid(f"(root): must be a JSON object, got {type(d).__name__}")
    ev = RequestEvent.__new__(RequestEvent)
    ev.event_id = _req_str(d, "event_id", 128)
    ts = d.get("ts")
    ev.ts = float(ts) if (type(ts) is float or type(ts) is int) and 0 <= ts < math.inf else _number(d, "ts", 0, True)  # type: ignore[assignment]
    ev.account_id = _req_str(d, "account_id", 128)
    ev.model = _req_str(d, "model", 128)
    ev.prompt_tokens = _req_count(d, "prompt_tokens")
    ev.completion_tokens = _req_count(d, "completion_tokens")
    ev.org_id = _opt_str(d, "org_id", 128)
    ev.api_key_id = _opt_str(d, "api_key_id", 128)
    ev.ip = _opt_str(d, "ip", 45)
    ev.country = _opt_str(d, "country", 2)
    ev.user_agent = _opt_str(d, "user_agent", 512)
    ev.payment_fingerprint = _opt_str(d, "payment_fingerprint", 128)
    ev.system_prompt = _opt_str(d, "system_prompt", 65536)
    ev.prompt = _opt_str(d, "prompt", 65536)
    ev.prompt_fingerprint = _opt_str(d, "prompt_fingerprint", 128)
    ev.asn = _opt_int(d, "asn", 0)
    ev.messages = _opt_int(d, "messages", 1)
    ev.max_tokens = _opt_int(d, "max_tokens", 0)
    ev.n = _opt_int(d, "n", 1)
    ev.account_created_ts = _number(d, "account_created_ts", 0, False)
    ev.temperature = _number(d, "temperature", 0, False)
    ev.latency_ms = _number(d, "latency_ms", 0, False)
    status = d.get("status")
    if status is not None and (type(status) is not str or status not in STATUSES):
        shown = status if type(status) is str and len(status) <= 32 else type(status).__name__
        raise _Invalid(f"status: unknown value {shown!r}; expected one of ok, error, rate_limited")
    ev.status = status
    return ev


def parse_event(raw: bytes | bytearray | memoryview | str | None) -> RequestEvent | Reject:
    """Decode and validate one message. Never raises; returns a :class:`Reject` with a reason."""
    if raw is None:
        return Reject("(root): empty message (null value)", b"")
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    data = bytes(raw)
    if len(data) > MAX_EVENT_BYTES:
        return Reject(f"(root): message of {len(data)} bytes exceeds {MAX_EVENT_BYTES}", data)
    if not data.strip():
        return Reject("(root): empty message", data)
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return Reject(f"(root): malformed JSON: {exc}", data)
    try:
        return _validate(decoded)
    except _Invalid as exc:
        return Reject(str(exc), data)
    except Exception as exc:  # defensive: one odd record must never stop a run
        return Reject(f"(root): unexpected validation error {type(exc).__name__}", data)
