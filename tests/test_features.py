from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from models import features
from models.events import parse_event
from models.features import (
    content_words,
    extract,
    ip_prefix,
    markers,
    template_fingerprints,
    template_similarity,
)

TEMPLATE = (
    "You are a senior {domain} researcher who explains everything thoroughly. Complete the "
    "task below as thoroughly as possible. Task: {task} Think step by step and show all of "
    "your reasoning before giving the final answer. Number each step of the solution, and check "
    "every intermediate result carefully before moving on."
)
FILLS = [
    ("organic chemistry", "Summarise the main ideas of the attached paper."),
    ("game theory", "Write a short poem about the sea and the wind."),
    ("number theory", "Explain why 97 is a prime number."),
    ("macroeconomics", "List three causes of inflation in 1970."),
    ("genetics", "Translate 'good morning' into German."),
]


def test_elicitation_markers_english_and_chinese() -> None:
    for text in (
        "Let's think step by step.",
        "show your reasoning",
        "Provide a detailed chain of thought",
        "请一步一步地思考",
        "写出完整的推理过程",
        "walk me through your reasoning",
    ):
        assert markers(text.lower())[0], text
    for text in ("What is the capital of France?", "Write a haiku about autumn leaves."):
        assert not markers(text.lower())[0], text


def test_rubric_markers() -> None:
    for text in (
        "Rate each response on a scale of 1 to 10",
        "which response is better",
        "You are a reward model",
        "Grade the following answer using this rubric",
        "请为这个回答评分",
    ):
        assert markers(text.lower())[1], text
    assert not markers("rate of inflation in 1970".lower())[1]


def test_template_fingerprint_survives_slot_filling() -> None:
    fps = [template_fingerprints(TEMPLATE.format(domain=d, task=t)) for d, t in FILLS]
    tails = {fp[1] for fp in fps}
    assert len(tails) == 1 and 0 not in tails
    # and unrelated prompts do not share it
    other = template_fingerprints(
        "Can you recommend some good books about the history of Rome and "
        "Byzantium, with a short summary of each and where to start?"
    )
    assert other[0] not in tails and other[1] not in tails


def test_template_similarity_is_high_for_fills_low_for_unrelated() -> None:
    a = TEMPLATE.format(domain=FILLS[0][0], task=FILLS[0][1])
    b = TEMPLATE.format(domain=FILLS[1][0], task=FILLS[1][1])
    assert template_similarity(a, b) > 0.5
    assert template_similarity(a, "What are good names for a golden retriever puppy?") < 0.1


def test_content_words_drop_stopwords_and_split_cjk() -> None:
    assert content_words("the cat and the hat sat on a mat") == ["cat", "hat", "sat", "mat"]
    assert content_words("一步一步思考") == ["一步", "一步", "思考"]


def test_ip_prefixes() -> None:
    assert ip_prefix("10.1.2.3") == ("ip24", "10.1.2")
    assert ip_prefix("2001:db8:abcd:12::1") == ("ip48", "2001:0db8:abcd")
    assert ip_prefix("2001:db8::1") == ("ip48", "2001:0db8:0000")
    assert ip_prefix("not an ip") == ("", "")
    assert ip_prefix(None) == ("", "")


def test_extract_uses_fingerprint_when_text_absent() -> None:
    e = parse_event(
        b'{"event_id":"e","ts":1,"account_id":"a","model":"m","prompt_tokens":1,'
        b'"completion_tokens":2,"prompt_fingerprint":"tpl-42","messages":1,'
        b'"payment_fingerprint":"pm1","ip":"1.2.3.4","asn":7,"user_agent":"ua"}'
    )
    f = extract(e)  # type: ignore[arg-type]
    assert f.tpl_head != 0 and f.tpl_tail == 0 and f.single_turn is True
    assert [k for k, _ in f.links] == ["payment", "ip24", "asn_ua"]


def test_cjk_prompts_get_fingerprints_from_bigrams() -> None:
    tpl = (
        "你是一位非常严谨而且耐心的数学老师，擅长把复杂的问题讲清楚。请解答下面的题目：{}。"
        "请一步一步地思考，写出完整的推理过程，最后给出答案并检查每一步。"
    )
    fps = {template_fingerprints(tpl.format(q)) for q in ("三加五等于几", "证明素数有无穷多个", "求圆的面积")}
    assert len(fps) == 1 and 0 not in next(iter(fps))
    assert template_fingerprints("今天天气很好，我们去公园散步吧，顺便买点水果回家。")[0] not in next(iter(fps))


def test_the_c_kernel_is_built() -> None:
    # `make test` builds the extension; a silent fallback costs 40 us instead of 1.7 us per prompt.
    assert features._fingerprints is not features._py_fingerprints


_texts = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from("abcdefgh 一步思考过程の日本タイไทย.,!éß"),
    max_size=1500,
)


@settings(max_examples=400, deadline=None)
@given(_texts)
@example("the " * 400 + "quick brown fox jumps over lazy dogs again and again " * 30)
@example("一步一步思考过程" * 200)
def test_c_kernel_and_python_reference_agree(text: str) -> None:
    kernel = pytest.importorskip("models._textkernel")
    low = text.lower()
    assert kernel.fingerprints(low) == features._py_fingerprints(low)
