"""RequestEvent: parse and validate one request event against ``request-event.schema.json``.

Valid events are decoded and type-checked in one C pass (msgspec, against the annotations of
:class:`RequestEvent`); no JSON-Schema engine runs per event (it would cost more than the whole
detection). A message that fails that pass goes through the hand-written validator, which names
the field and the problem. Unknown fields are ignored. Parsing never raises on input bytes.

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
from typing import Annotated, Any, Literal, get_args

import msgspec
import orjson

MAX_EVENT_BYTES = 1 << 20  # largest message accepted (bigger than any valid event)

Status = Literal["ok", "error", "rate_limited"]
STATUSES = frozenset(get_args(Status))


_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Str128 = Annotated[str, msgspec.Meta(max_length=128)]
_Text = Annotated[str, msgspec.Meta(max_length=65536)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_NonNeg = Annotated[float, msgspec.Meta(ge=0)]


class RequestEvent(msgspec.Struct, kw_only=True, gc=False):
    """One validated request. Optional fields are ``None`` when absent.

    A ``msgspec.Struct``: the common case (a valid event) is decoded and checked in C against
    these annotations; any failure is re-examined by the hand-written validator below, which
    gives the precise reason (and stays the authority on what is valid).
    """

    event_id: _Id
    ts: _NonNeg
    account_id: _Id
    model: _Id
    prompt_tokens: _Count
    completion_tokens: _Count
    org_id: _Str128 | None = None
    api_key_id: _Str128 | None = None
    account_created_ts: _NonNeg | None = None
    ip: Annotated[str, msgspec.Meta(max_length=45)] | None = None
    asn: _Count | None = None
    country: Annotated[str, msgspec.Meta(max_length=2)] | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    payment_fingerprint: _Str128 | None = None
    system_prompt: _Text | None = None
    prompt: _Text | None = None
    prompt_fingerprint: _Str128 | None = None
    messages: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_tokens: _Count | None = None
    temperature: _NonNeg | None = None
    n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    status: Status | None = None
    latency_ms: _NonNeg | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}

    def __repr__(self) -> str:  # never shows prompt text
        return f"RequestEvent(event_id={self.event_id!r}, account_id={self.account_id!r}, ts={self.ts})"


_decode = msgspec.json.Decoder(RequestEvent).decode


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
    if type(d) is not dict:
        raise _Invalid(f"(root): must be a JSON object, got {type(d).__name__}")
    return RequestEvent(
        event_id=_req_str(d, "event_id", 128),
        ts=_number(d, "ts", 0, True),  # type: ignore[arg-type]
        account_id=_req_str(d, "account_id", 128),
        model=_req_str(d, "model", 128),
        prompt_tokens=_req_count(d, "prompt_tokens"),
        completion_tokens=_req_count(d, "completion_tokens"),
        org_id=_opt_str(d, "org_id", 128),
        api_key_id=_opt_str(d, "api_key_id", 128),
        ip=_opt_str(d, "ip", 45),
        country=_opt_str(d, "country", 2),
        user_agent=_opt_str(d, "user_agent", 512),
        payment_fingerprint=_opt_str(d, "payment_fingerprint", 128),
        system_prompt=_opt_str(d, "system_prompt", 65536),
        prompt=_opt_str(d, "prompt", 65536),
        prompt_fingerprint=_opt_str(d, "prompt_fingerprint", 128),
        asn=_opt_int(d, "asn", 0),
        messages=_opt_int(d, "messages", 1),
        max_tokens=_opt_int(d, "max_tokens", 0),
        n=_opt_int(d, "n", 1),
        account_created_ts=_number(d, "account_created_ts", 0, False),
        temperature=_number(d, "temperature", 0, False),
        latency_ms=_number(d, "latency_ms", 0, False),
        status=_status(d),
    )


def _status(d: dict[str, Any]) -> Any:
    status = d.get("status")
    if status is not None and (type(status) is not str or status not in STATUSES):
        shown = status if type(status) is str and len(status) <= 32 else type(status).__name__
        raise _Invalid(f"status: unknown value {shown!r}; expected one of {', '.join(get_args(Status))}")
    return status


def parse_event(raw: bytes | bytearray | memoryview | str | None) -> RequestEvent | Reject:
    """Decode and validate one message. Never raises; returns a :class:`Reject` with a reason."""
    if raw is None:
        return Reject("(root): empty message (null value)", b"")
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    data = raw if type(raw) is bytes else bytes(raw)
    if len(data) > MAX_EVENT_BYTES:
        return Reject(f"(root): message of {len(data)} bytes exceeds {MAX_EVENT_BYTES}", data)
    try:
        return _decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass  # rare: the careful path below says precisely what is wrong
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
