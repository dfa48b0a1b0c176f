"""Request features: reasoning elicitation, rubric/grading requests, template fingerprints, links.

Template fingerprints are MinHash-style: each window of a prompt (its first and last
``WINDOW`` content words) is reduced to the three content words with the smallest keyed hash.
Filling a template's slots with other numbers, names or topics
leaves most words of the window unchanged, so the minimum usually stays on a constant word of
the template; the fingerprint is therefore equal for most fills, and the share of equal values
estimates the Jaccard similarity of two prompts (see :func:`template_similarity`).

>>> tpl = ("You are a meticulous mathematics tutor who never skips details. Solve the following "
...        "exercise carefully and completely. Exercise: {} Explain every intermediate step of your "
...        "thinking, check each result, then state the final answer on its own line.")
>>> fps = {template_fingerprints(tpl.format(x)) for x in ("why the sky is blue.",
...        "the causes of the French revolution.", "prove that there are infinitely many primes.")}
>>> len(fps)
1
>>> template_similarity(tpl.format("why the sky is blue."), "Name some famous Broadway actors.")
0.0
>>> bool(ELICIT_RE.search("请一步一步地思考"))
True
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Callable
from typing import Any

try:  # RE2 scans in linear time, a third of what `re` takes on these alternations
    import re2 as _re2  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the dependency is declared; `re` is the fallback
    _re2 = None

from models.events import RequestEvent

# Both patterns run on lower-cased text (cheaper than re.IGNORECASE).
# Reasoning elicitation, English and Chinese. Matches requests for the model to expose its
# intermediate reasoning, which is what a distiller wants to copy.
ELICIT_RE = re.compile(
    r"step[\s-]+by[\s-]+step|chain[\s-]of[\s-]thought|think(?:ing)?\s+(?:carefully|it\s+through|aloud|out\s+loud)"
    r"|let'?s\s+think|show\s+(?:your|all|the|each|every)\s+(?:\w+\s+)?(?:work|reasoning|steps|thinking|derivation)"
    r"|(?:explain|describe|detail|walk\s+(?:me\s+)?through)\s+(?:your|the|each|every)\s+(?:\w+\s+)?(?:reasoning|thought|steps|logic)"
    r"|reasoning\s+(?:process|steps|trace|chain)|before\s+(?:giving|stating|writing|providing)\s+(?:\w+\s+)?(?:final\s+)?answer"
    r"|intermediate\s+steps|<think>|full\s+(?:reasoning|derivation|solution\s+path)"
    r"|一步一步|一步步|逐步|分步|思考过程|推理过程|思维链|解题步骤|详细推理|推导过程|请先思考",
)

# Grading, rubric and reward-model style requests (preference data for distillation / RLAIF).
RUBRIC_RE = re.compile(
    r"rubric|on\s+a\s+scale\s+(?:of|from)|score\s+(?:the|this|each|both)\s+(?:\w+\s+)?(?:response|answer|output|completion)s?"
    r"|rate\s+(?:the|this|each|both)\s+(?:\w+\s+)?(?:response|answer|output|completion)s?"
    r"|(?:which|what)\s+(?:\w+\s+)?(?:response|answer|completion|output)\s+is\s+(?:better|more)"
    r"|grade\s+(?:the|this|each)|(?:response|assistant|answer)\s+a\s+(?:and|vs\.?|versus|or)\s+(?:response|assistant|answer)?\s*b"
    r"|reward\s+(?:model|score)|preference\s+(?:label|pair|data)|评分|打分|哪个回答更好|评估.{0,6}回答",
)

# Substrings one of which every RUBRIC_RE match contains: a cheap pre-check (the alternation
# costs microseconds on text that has none of them).
_RUBRIC_HINTS = (
    "rubric",
    "scale",
    "score",
    "rate ",
    "grade",
    "better",
    "more",
    "reward",
    "preference",
    " a ",
    "评",
    "打分",
    "回答",
)


def _maybe_rubric(text: str) -> bool:
    return any(h in text for h in _RUBRIC_HINTS)


def _build_marker_scan() -> object:
    if _re2 is None:
        return None
    scan = _re2.Set.SearchSet(_re2.Options())
    scan.Add(ELICIT_RE.pattern)
    scan.Add(RUBRIC_RE.pattern)
    scan.Compile()
    return scan


_MARKERS = _build_marker_scan()
# re2's compiled set itself: extract() matches the UTF-8 bytes it already has for the content
# hash, without the wrapper encoding the text a second time.
_MARKER_SET: Any = getattr(_MARKERS, "_set", None)


def markers(text: str) -> tuple[bool, bool]:
    """(reasoning elicitation, rubric/grading) in lower-cased text, in one pass."""
    if _MARKERS is not None:
        found = _MARKERS.Match(text)  # type: ignore[attr-defined]
        return (0 in found, 1 in found) if found else (False, False)
    return (ELICIT_RE.search(text) is not None, _maybe_rubric(text) and RUBRIC_RE.search(text) is not None)


# Function words carry no topic; excluding them keeps fingerprints on a template's content.
STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "your",
        "with",
        "this",
        "that",
        "from",
        "have",
        "has",
        "had",
        "was",
        "were",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "than",
        "too",
        "very",
        "just",
        "also",
        "into",
        "over",
        "under",
        "about",
        "after",
        "before",
        "between",
        "through",
        "during",
        "above",
        "below",
        "again",
        "further",
        "then",
        "once",
        "here",
        "there",
        "these",
        "those",
        "their",
        "them",
        "they",
        "its",
        "our",
        "ours",
        "out",
        "off",
        "while",
        "because",
        "until",
        "being",
        "been",
        "does",
        "did",
        "doing",
        "get",
        "got",
        "use",
        "using",
        "one",
        "two",
        "three",
        "like",
        "make",
        "made",
        "give",
        "given",
        "please",
        "write",
        "tell",
        "let",
        "im",
        "its",
        "dont",
        "cant",
        "ive",
        "youre",
        "lets",
        "let",
        "don",
        "isn",
        "doesn",
        "didn",
        "wasn",
        "aren",
        "won",
    ]
)

WINDOW = 12  # content words in the head and in the tail window
_SALT = b"dg1"


_NOT_CONTENT = 0xFFFFFFFF
_KEY_SEED = 0x5BD1E995


def _key(word: str) -> int:
    return min(zlib.crc32(word.encode("utf-8", "surrogatepass"), _KEY_SEED) or 1, _NOT_CONTENT - 1)


# Stop words are recognised by their key (the C kernel compares keys, never strings).
_STOP_KEYS = frozenset(_key(w) for w in STOPWORDS)


def _window_keys(keys: list[int]) -> int:
    """Bottom-3 of a window's distinct word keys (0 if it has fewer than 6 distinct words)."""
    uniq = set(keys)
    if len(uniq) < 6:
        return 0
    lo1, lo2, lo3 = sorted(uniq)[:3]
    return ((lo1 * 0x9E3779B97F4A7C15) ^ (lo2 << 21) ^ (lo3 * 0xC2B2AE3D27D4EB4F)) & 0xFFFFFFFFFFFFFFFF or 1


def _bigram_script(ch: str) -> bool:
    """Scripts written without spaces between words (Han, kana, Thai): cut into bigrams."""
    c = ord(ch)
    return (
        0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0xF900 <= c <= 0xFAFF or 0x3040 <= c <= 0x30FF
    ) or 0x0E00 <= c <= 0x0E7F


def _words(text: str) -> list[tuple[str, bool]]:
    """(word, is a bigram) for each run of letters; runs in a bigram script become bigrams."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if not ch.isalpha():
            i += 1
            continue
        big = _bigram_script(ch)
        j = i + 1
        while j < n and text[j].isalpha() and _bigram_script(text[j]) == big:
            j += 1
        if big:
            out.extend((text[p : p + 2], True) for p in range(i, j - 1, 2))
        else:
            out.append((text[i:j], False))
        i = j
    return out


def content_words(text: str) -> list[str]:
    """Content words of lower-cased text: words of 3+ letters but stop words, and CJK bigrams."""
    return [w for w, big in _words(text) if big or (len(w) >= 3 and _key(w) not in _STOP_KEYS)]


def _content_keys(text: str) -> list[int]:
    return [_key(w) for w in content_words(text)]


def _py_fingerprints(text: str) -> tuple[int, int]:
    """(head, tail) fingerprints of lower-cased text: the reference the C kernel follows."""
    # Templates keep their constant text at the start and/or the end, with the slots between.
    keys = _content_keys(text) if len(text) <= 1200 else _content_keys(text[:400]) + _content_keys(text[-400:])
    if len(keys) <= WINDOW:
        return (_window_keys(keys), 0)
    return (_window_keys(keys[:WINDOW]), _window_keys(keys[-WINDOW:]))


try:  # the same computation in C (models/_textkernel.c), ~20x faster; Python if not built
    from models import _textkernel  # type: ignore[attr-defined]

    _textkernel.set_stop_keys(tuple(sorted(_STOP_KEYS)))
    _fingerprints: Callable[[str], tuple[int, int]] = _textkernel.fingerprints
except ImportError:  # pragma: no cover - exercised by the equivalence test with the fallback
    _fingerprints = _py_fingerprints


def template_fingerprints(text: str | None) -> tuple[int, int]:
    """(head, tail) fingerprints of a prompt; 0 where the prompt is too short to have one."""
    if not text:
        return (0, 0)
    return _fingerprints(text.lower())


def template_similarity(a: str, b: str, perms: int = 64) -> float:
    """MinHash estimate of the Jaccard similarity of two prompts' content words (0..1)."""
    wa, wb = set(content_words(a.lower())), set(content_words(b.lower()))
    if not wa or not wb:
        return 0.0
    same = 0
    for seed in range(perms):
        ma = min(zlib.crc32(w.encode(), seed) for w in wa)
        mb = min(zlib.crc32(w.encode(), seed) for w in wb)
        same += ma == mb
    return same / perms


_VALUES: dict[str, dict[str, int]] = {}
_VALUES_MAX = 200_000  # cached values per kind


def value_hash(kind: str, value: str) -> int:
    """64-bit id of a link attribute value (stable across processes and runs)."""
    cache = _VALUES.get(kind)
    if cache is None:
        cache = _VALUES[kind] = {}
    h = cache.get(value)
    if h is None:
        if len(cache) >= _VALUES_MAX:
            cache.clear()
        h = cache[value] = _value_hash(kind, value)
    return h


def _value_hash(kind: str, value: str) -> int:
    digest = hashlib.blake2b(
        value.encode("utf-8", "surrogatepass"), digest_size=8, key=_SALT, person=kind.encode()[:16]
    ).digest()
    return int.from_bytes(digest, "big") or 1


def ip_prefix(ip: str | None) -> tuple[str, str]:
    """('ip24', '/24 prefix') for IPv4 or ('ip48', '/48 prefix') for IPv6; ('', '') if unusable."""
    if not ip:
        return ("", "")
    if ":" in ip:
        parts = ip.split("%", 1)[0].split(":")
        if "" in parts[:3] or len(parts) < 3:
            try:
                import ipaddress

                packed = ipaddress.IPv6Address(ip.split("%", 1)[0]).exploded.split(":")
            except ValueError:
                return ("", "")
            parts = packed
        return ("ip48", ":".join(p.lower().zfill(4) for p in parts[:3]))
    head, dot, _ = ip.rpartition(".")
    if not dot or head.count(".") != 2:
        return ("", "")
    return ("ip24", head)


LINK_KINDS = ("payment", "system_prompt", "ip", "asn_ua")  # per-event attribute slots


class RequestFeatures:
    """What the account stage needs from one request. No prompt text is kept."""

    __slots__ = ("content", "elicit", "links", "log_in", "log_out", "rubric", "single_turn", "tpl_head", "tpl_tail")

    elicit: bool
    rubric: bool
    single_turn: bool | None
    log_in: float
    log_out: float
    tpl_head: int
    tpl_tail: int
    content: int  # crc32 of the prompt text: tells a re-sent prompt from a refilled template
    links: tuple[tuple[str, int], ...]  # (kind, value hash), one per LINK_KINDS slot that is set


_SYSTEM: dict[str, tuple[bool, bool, int]] = {}  # system prompt -> markers and value hash
_SYSTEM_CHARS = [0]  # characters held by _SYSTEM's keys (a system prompt can be 64 KiB)
_SYSTEM_MAX_CHARS = 32 << 20


def _system_prompt(text: str) -> tuple[bool, bool, int]:
    # Cached: system prompts repeat across an account's requests (and across a campaign's).
    hit = _SYSTEM.get(text)
    if hit is None:
        if len(_SYSTEM) >= 50_000 or _SYSTEM_CHARS[0] >= _SYSTEM_MAX_CHARS:
            _SYSTEM.clear()
            _SYSTEM_CHARS[0] = 0
        _SYSTEM_CHARS[0] += len(text)
        e, r = markers(text[:2000].lower())
        hit = _SYSTEM[text] = (e, r, value_hash("system_prompt", text) if len(text) >= 40 else 0)
    return hit


def extract(ev: RequestEvent) -> RequestFeatures:
    """Compute the per-request features of a validated event."""
    f = RequestFeatures.__new__(RequestFeatures)
    prompt = ev.prompt
    if prompt:
        text = (prompt if len(prompt) <= 4000 else prompt[:2000] + " " + prompt[-2000:]).lower()
        data = text.encode("utf-8", "surrogatepass")
        if _MARKER_SET is not None:
            found = _MARKER_SET.Match(data)
            f.elicit, f.rubric = (0 in found, 1 in found) if found else (False, False)
        else:
            f.elicit, f.rubric = markers(text)
        f.tpl_head, f.tpl_tail = _fingerprints(text)
        f.content = zlib.crc32(data)
    else:
        f.elicit = f.rubric = False
        f.content = zlib.crc32(ev.event_id.encode("utf-8", "surrogatepass"))
        fp = ev.prompt_fingerprint
        f.tpl_head, f.tpl_tail = (value_hash("template", fp), 0) if fp else (0, 0)
    m = ev.messages
    f.single_turn = None if m is None else m == 1
    f.log_in = math.log1p(ev.prompt_tokens)
    f.log_out = math.log1p(ev.completion_tokens * (ev.n or 1))
    links: list[tuple[str, int]] = []
    if ev.payment_fingerprint:
        links.append(("payment", value_hash("payment", ev.payment_fingerprint)))
    sys_prompt = ev.system_prompt
    if sys_prompt:
        e, r, h = _system_prompt(sys_prompt)
        f.elicit = f.elicit or e
        f.rubric = f.rubric or r
        if h:
            links.append(("system_prompt", h))
    ip = ev.ip
    if ip:
        kind, prefix = ip_prefix(ip)
        if kind:
            links.append((kind, value_hash(kind, prefix)))
    if ev.asn is not None and ev.user_agent:
        links.append(("asn_ua", value_hash("asn_ua", f"{ev.asn}|{ev.user_agent}")))
    f.links = tuple(links)
    return f
