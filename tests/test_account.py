from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_
from river import stats

import models.account as account_module
from models.account import E_DT, E_DTVAR, E_ELICIT, AccountModel, AccountState
from models.config import AccountSettings
from models.features import RequestFeatures


def feats(elicit: bool = False, tpl: int = 0, content: int = 0, links: tuple = ()) -> RequestFeatures:  # type: ignore[type-arg]
    f = RequestFeatures.__new__(RequestFeatures)
    f.elicit, f.rubric, f.single_turn, f.log_in, f.log_out = elicit, False, True, 5.0, 6.0
    f.tpl_head, f.tpl_tail, f.content, f.links = tpl, 0, content, links
    return f


def test_ew_statistics_match_river() -> None:
    s = AccountSettings()
    model = AccountModel(s)
    st = AccountState(0.0)
    mean, var, dts = stats.EWMean(s.fading), stats.EWVar(s.fading), stats.EWMean(s.fading)
    rng = random.Random(1)
    t = 0.0
    for i in range(200):
        e = rng.random() < 0.3
        dt = rng.expovariate(1 / 30)
        t += dt
        model.learn_one(st, feats(elicit=e, content=i), t)
        mean.update(1.0 if e else 0.0)
        if i:
            dts.update(dt)
            var.update(dt)
    assert abs(st.f[E_ELICIT] - mean.get()) < 1e-9
    assert abs(st.f[E_DT] - dts.get()) < 1e-9
    assert abs(st.f[E_DTVAR] - var.get()) < 1e-6 * max(var.get(), 1)


def test_duplicate_event_ids_are_recognised() -> None:
    st = AccountState()
    assert not st.seen_event("e-1")
    st.n += 1
    assert st.seen_event("e-1")
    assert not st.seen_event("e-2")


def test_template_becomes_systematic_only_with_different_fills() -> None:
    model = AccountModel(AccountSettings())
    st = AccountState(0.0)
    # the same prompt re-sent: never systematic
    for i in range(5):
        links = model.learn_one(st, feats(tpl=77, content=1), float(i))
        assert not [k for k, _ in links if k.startswith("template")]
    st2 = AccountState(0.0)
    kinds = []
    for i in range(5):
        kinds += [k for k, _ in model.learn_one(st2, feats(tpl=77, content=i, elicit=True), 1e6 + i)]
    assert kinds.count("template_cot") == 1


def test_rotating_attribute_stops_being_reported() -> None:
    s = AccountSettings()
    model = AccountModel(s)
    st = AccountState()
    n_links = 0
    for i in range(100):
        links = model.learn_one(st, feats(content=i, links=(("ip24", 1000 + i),)), float(i))
        n_links += len(links)
    assert n_links == s.max_rotations


def test_state_pickles_small_and_round_trips() -> None:
    model = AccountModel(AccountSettings())
    st = AccountState(5.0)
    for i in range(50):
        model.learn_one(st, feats(elicit=True, tpl=i % 3 + 1, content=i), 100.0 + 60 * i)
    raw = pickle.dumps(st)
    assert len(raw) < 1024
    back = pickle.loads(raw)
    assert back.n == st.n and list(back.f[:9]) == list(st.f[:9]) and back.q == st.q and back.u == st.u
    assert model.score_value(back) == model.score_value(st)


def test_score_reasons_sum_to_score() -> None:
    model = AccountModel(AccountSettings())
    st = AccountState(0.0)
    for i in range(60):
        model.learn_one(st, feats(elicit=True, tpl=5, content=i), 3600.0 + 30 * i)
    score, reasons = model.score_one(st)
    assert abs(score - sum(r.points for r in reasons)) < 1e-6
    assert abs(score - model.score_value(st)) < 1e-9
    assert reasons[0].feature == "reasoning_elicitation_rate"


@pytest.mark.parametrize("walk", ["c", "python"])
def test_fused_half_space_trees_equal_score_then_learn(walk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import copy
    import random

    from river import anomaly

    from models import population
    from models.population import FusedHalfSpaceTrees

    if walk == "python":
        monkeypatch.setattr(population, "_kernel", None)
    else:
        assert population._kernel is not None, "models/_hstkernel.c is not built"
    rng = random.Random(5)
    fused = FusedHalfSpaceTrees(n_trees=4, height=5, window_size=30, seed=9)
    plain = anomaly.HalfSpaceTrees(n_trees=4, height=5, window_size=30, seed=9)
    for i in range(200):
        x = {"a": rng.random() ** 3, "b": rng.random(), "c": 0.5 if i % 7 else 0.99}
        if i % 11 == 0:
            del x["b"]  # a missing feature takes the child visited more
        expected = plain.score_one(x)
        plain.learn_one(x)
        assert fused.score_learn_one(x) == expected
    flat = fused.flat
    assert flat is not None
    river = [(n.l_mass, n.r_mass) for t in plain.trees for n in population._heap_order(t, plain.height)]
    assert list(zip(flat.l_mass, flat.r_mass, strict=True)) == river
    assert pickle.loads(pickle.dumps(fused)).score_one({"a": 0.3}) == plain.score_one({"a": 0.3})
    assert copy.deepcopy(fused).score_one({"a": 0.1, "b": 0.2, "c": 0.5}) == plain.score_one(
        {"a": 0.1, "b": 0.2, "c": 0.5}
    )


_KINDS = ("payment", "system_prompt", "ip24", "ip48", "asn_ua")
_feature_steps = st_.lists(
    st_.tuples(
        st_.booleans(),  # elicit
        st_.booleans(),  # rubric
        st_.sampled_from([None, True, False]),  # single_turn
        st_.floats(0, 12, allow_nan=False),  # log_in
        st_.floats(0, 12, allow_nan=False),  # log_out
        st_.sampled_from([0, 0, 1, 2, 3, 2**64 - 1, *range(10, 22)]),  # head: enough to fill the table
        st_.sampled_from([0, 0, 0, 1, 5, 2**63]),  # tail
        st_.integers(0, 3) | st_.just(2**32 - 1),  # content
        st_.lists(st_.tuples(st_.sampled_from(_KINDS), st_.integers(0, 6) | st_.just(2**64 - 1)), max_size=3),
        st_.floats(-4000, 20000, allow_nan=False) | st_.just(1e300),  # step in time (negative: late)
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=_feature_steps,
    created=st_.sampled_from([None, 0.0, 1e6]),
    driven=st_.sampled_from([0.0, 0.4, 1.0]),
    uses=st_.integers(1, 4),
    rotations=st_.integers(1, 3),
)
def test_c_learning_step_equals_python_twin(
    steps: list, created: float | None, driven: float, uses: int, rotations: int
) -> None:  # type: ignore[type-arg]
    assert account_module._kernel is not None, "models/_accountkernel.c is not built"
    s = AccountSettings(template_driven_share=driven, template_systematic_uses=uses, max_rotations=rotations)
    model = AccountModel(s)
    c_state, py_state = AccountState(created), AccountState(created)
    ts = 1e6
    for elicit, rubric, single, log_in, log_out, head, tail, content, links, dt in steps:
        f = RequestFeatures.__new__(RequestFeatures)
        f.elicit, f.rubric, f.single_turn, f.log_in, f.log_out = elicit, rubric, single, log_in, log_out
        f.tpl_head, f.tpl_tail, f.content, f.links = head, tail, content, tuple(links)
        ts = 1e300 if dt == 1e300 else max(ts + dt, 0.0)
        c_links = model.learn_one(c_state, f, ts)
        py_links = model._py_learn_one(py_state, f, ts)
        assert c_links == py_links
        assert c_state.n == py_state.n
        # bit for bit, NaN (no value yet) included
        assert c_state.f.tobytes() == py_state.f.tobytes()
        assert c_state.q == py_state.q
        assert c_state.u == py_state.u


@given(st_.dictionaries(st_.text(max_size=3), st_.floats(allow_nan=True, allow_infinity=True), max_size=10))
def test_squash_is_the_clamped_logistic(z: dict[str, float]) -> None:
    import math

    from models.scoring import squash

    got = squash(z)
    assert list(got) == list(z)
    for k, v in z.items():
        want = 1.0 / (1.0 + math.exp(-max(min(v, 30.0), -30.0)))
        assert got[k] == want or (math.isnan(want) and math.isnan(got[k]))
