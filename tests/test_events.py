from __future__ import annotations

import msgspec
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from models import events
from models.events import MAX_EVENT_BYTES, Reject, RequestEvent, parse_event

GOOD = {
    "event_id": "e1",
    "ts": 1772409600.5,
    "account_id": "a1",
    "model": "m",
    "prompt_tokens": 10,
    "completion_tokens": 20,
}


def ev(**kw: object) -> bytes:
    d = dict(GOOD)
    d.update(kw)
    return orjson.dumps({k: v for k, v in d.items() if v is not ...})


def test_valid_event_with_unknown_fields_ignored() -> None:
    e = parse_event(ev(extra_field={"x": 1}, prompt="hi", messages=1, status="ok", asn=16509))
    assert isinstance(e, RequestEvent)
    assert (e.account_id, e.prompt, e.messages, e.asn, e.org_id) == ("a1", "hi", 1, 16509, None)


def test_rejects_name_field_and_problem() -> None:
    cases = {
        ev(ts=...): "ts: required field missing",
        ev(ts="yesterday"): "ts: must be a finite number, got str",
        ev(ts=-5): "ts: must be >= 0, got -5",
        ev(prompt_tokens=True): "prompt_tokens: must be an integer, got bool",
        ev(completion_tokens=1.5): "completion_tokens: must be an integer, got float",
        ev(account_id=""): "account_id: length must be 1..128, got 0",
        ev(account_id="x" * 200): "account_id: length must be 1..128, got 200",
        ev(prompt="p" * 70000): "prompt: longer than 65536 characters (70000)",
        ev(status="exploded"): "status: unknown value 'exploded'; expected one of ok, error, rate_limited",
        ev(messages=0): "messages: must be >= 1, got 0",
        ev(asn="16509"): "asn: must be an integer or null, got str",
        b"[1, 2]": "(root): must be a JSON object, got list",
        b"": "(root): empty message",
    }
    for raw, reason in cases.items():
        r = parse_event(raw)
        assert isinstance(r, Reject), raw[:60]
        assert r.reason == reason


def test_garbage_and_huge_messages_are_rejected_with_reason() -> None:
    r = parse_event(b"\xff\xfe\x00binary")
    assert isinstance(r, Reject) and r.reason.startswith("(root): malformed JSON")
    r = parse_event(b"{" + b" " * (MAX_EVENT_BYTES + 1))
    assert isinstance(r, Reject) and "exceeds" in r.reason
    r = parse_event(b'{"event_id": "e", "ts": NaN}')
    assert isinstance(r, Reject)
    assert parse_event(None).reason.startswith("(root)")  # type: ignore[union-attr]


def test_reject_record_keeps_a_bounded_copy() -> None:
    r = parse_event(b"x" * 5000)
    assert isinstance(r, Reject)
    d = r.to_dict()
    assert d["size"] == 5000 and len(d["raw"]) == 512


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_parser_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    out = parse_event(raw)
    assert isinstance(out, RequestEvent | Reject)
    if isinstance(out, Reject):
        assert out.reason and ":" in out.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*GOOD, "prompt", "asn", "status", "messages", "n", "ip"]), json_values))
def test_parser_gives_event_or_reason_on_arbitrary_objects(d: dict[str, object]) -> None:
    out = parse_event(orjson.dumps(d))
    assert isinstance(out, RequestEvent | Reject)
    if isinstance(out, Reject):
        field = out.reason.split(":", 1)[0]
        assert field == "(root)" or field in d or field in GOOD


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from([*GOOD, "prompt", "asn", "status", "messages", "ip", "country"]), json_values))
def test_fast_decoder_and_careful_validator_agree(d: dict[str, object]) -> None:
    # The C decoder accepts exactly what the hand-written validator accepts, field for field.
    raw = orjson.dumps({**GOOD, **d})
    try:
        fast: RequestEvent | None = events._decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        fast = None
    try:
        careful: RequestEvent | None = events._validate(orjson.loads(raw))
    except events._Invalid:
        careful = None
    assert (fast is None) == (careful is None), (d, fast, careful)
    if fast is not None and careful is not None:
        assert fast.to_dict() == careful.to_dict()
