from __future__ import annotations

import pickle
import random

from river import stats

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


def test_fused_half_space_trees_equal_score_then_learn() -> None:
    import copy
    import random

    from river import anomaly

    from models.population import FusedHalfSpaceTrees

    rng = random.Random(5)
    fused = FusedHalfSpaceTrees(n_trees=4, height=5, window_size=30, seed=9)
    plain = anomaly.HalfSpaceTrees(n_trees=4, height=5, window_size=30, seed=9)
    for i in range(200):
        x = {"a": rng.random() ** 3, "b": rng.random(), "c": 0.5 if i % 7 else 0.99}
        expected = plain.score_one(x)
        plain.learn_one(x)
        assert fused.score_learn_one(x) == expected
    masses = [[(n.l_mass, n.r_mass) for n in nodes] for nodes in fused._tree_nodes]
    assert masses == [[(n.l_mass, n.r_mass) for n in nodes] for nodes in plain._tree_nodes]
    assert copy.deepcopy(fused).score_one({"a": 0.1, "b": 0.2, "c": 0.5}) == plain.score_one(
        {"a": 0.1, "b": 0.2, "c": 0.5}
    )
