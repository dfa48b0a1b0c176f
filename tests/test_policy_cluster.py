from __future__ import annotations

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st_

from models.account import Reason, SubjectAlertState
from models.cluster import ClusterModel, ClusterState, MemberSummary
from models.config import ClusterSettings, PolicySettings
from models.policy import AlertPolicy, alert_id

R = [Reason("x", 1.0, 0.0, 10.0)]


def test_hysteresis_and_cooldown() -> None:
    s = PolicySettings()
    p = AlertPolicy(s, "h")
    st = SubjectAlertState()
    a = p.decide(st, "cluster", "c1", ["a", "b", "c"], 72.0, R, ts=0.0)
    assert a is not None and a["severity"] == "high" and a["recommended_action"] == "verify"
    # a dip just under the band holds it; no alert
    assert p.decide(st, "cluster", "c1", ["a", "b", "c"], s.high - 1, R, ts=10.0) is None
    assert st.band == 3
    # a clear drop leaves the band silently
    assert p.decide(st, "cluster", "c1", ["a", "b", "c"], s.high - s.hysteresis - 1, R, ts=20.0) is None
    assert st.band == 2
    # back up: a new alert with the next sequence number
    b = p.decide(st, "cluster", "c1", ["a", "b", "c"], 90.0, R, ts=30.0)
    assert b is not None and b["severity"] == "critical" and b["recommended_action"] == "suspend"
    assert b["alert_id"] == alert_id("h", "cluster", "c1", 2)
    # same band: nothing until the cool-down, unless members were added
    assert p.decide(st, "cluster", "c1", ["a", "b", "c"], 90.0, R, ts=40.0) is None
    grown = p.decide(st, "cluster", "c1", ["a", "b", "c", "d"], 90.0, R, ts=30.0 + s.member_update_s)
    assert grown is not None and grown["accounts"] == ["a", "b", "c", "d"]
    last = 30.0 + s.member_update_s
    assert p.decide(st, "cluster", "c1", ["a", "b", "c", "d"], 90.0, R, ts=last + s.cooldown_s - 1) is None
    assert p.decide(st, "cluster", "c1", ["a", "b", "c", "d"], 90.0, R, ts=last + s.cooldown_s) is not None


def test_account_alone_is_capped_below_suspend() -> None:
    p = AlertPolicy(PolicySettings(), "h")
    a = p.decide(SubjectAlertState(), "account", "a", ["a"], 99.0, R, ts=1.0)
    assert a is not None and a["recommended_action"] == "verify" and a["score"] < 70


def test_alert_validates_against_contract(alert_schema: dict) -> None:  # type: ignore[type-arg]
    p = AlertPolicy(PolicySettings(), "h")
    a = p.decide(SubjectAlertState(), "cluster", "cl:a", ["a", "b", "c"], 80.0, R, ts=1.0, emitted_at=2.0)
    jsonschema.validate(a, alert_schema)


def member(i: int, elicit: float, created: float, tpl: int, score: float) -> MemberSummary:
    return MemberSummary(f"a{i}", 100, elicit, 0.0, 1.0, created, 0.0, 36000.0, tpl, score, 0xFFF)


def test_cluster_of_campaign_scores_high_and_org_low() -> None:
    m = ClusterModel(ClusterSettings())
    camp, org = ClusterState(), ClusterState()
    for i in range(30):
        m.apply(camp, member(i, 0.9, 1000.0 + i, 7, 50.0))
    for i in range(5):
        m.apply(org, member(i, 0.05, 1e6 * i, 100 + i, 5.0))
    assert m.score_one(camp, 40000.0)[0] >= 70
    assert m.score_one(org, 40000.0)[0] < 35


def test_cluster_member_moves_are_reversible() -> None:
    m = ClusterModel(ClusterSettings())
    st = ClusterState()
    for i in range(10):
        m.apply(st, member(i, 0.5, 1000.0, 7, 30.0))
    before = m.features(st, 5000.0)
    m.apply(st, member(99, 0.9, 5.0, 8, 60.0))
    m.remove(st, "a99")
    after = m.features(st, 5000.0)
    for k in before:
        assert abs(before[k] - after[k]) < 1e-9, k


@settings(max_examples=150, deadline=None)
@given(
    st_.lists(
        st_.tuples(st_.integers(0, 12), st_.sampled_from([-1.0, 0.0, 4e4, 9e4, 2e5, 1.7e9]), st_.booleans()),
        max_size=120,
    )
)
def test_remembered_creation_burst_equals_recomputed(steps: list[tuple[int, float, bool]]) -> None:
    """The cached burst feature is the one computed from scratch after any joins, refreshes, leaves."""
    import copy

    model = ClusterModel(ClusterSettings())
    st = ClusterState()
    for acct, created, leave in steps:
        if leave:
            model.remove(st, f"a{acct}")
        else:
            m = MemberSummary(f"a{acct}", 10, 0.5, 0.1, 1.0, created, 1e9, 1e9 + 60, 0, 10.0)
            model.apply(st, m)
        fresh = copy.deepcopy(st)
        fresh.burst_best = -1
        assert model.features(st, 1.7e9)["creation_burst"] == model.features(fresh, 1.7e9)["creation_burst"]


def test_cluster_state_pickled_before_the_burst_cache_still_loads() -> None:
    import pickle

    model = ClusterModel(ClusterSettings())
    st = ClusterState()
    for i in range(5):
        model.apply(st, MemberSummary(f"a{i}", 10, 0.5, 0.1, 1.0, 1e6 + i, 1e9, 1e9 + 60, 0, 10.0))
    old_layout = st.__getstate__()[:-1]  # what the previous version wrote
    back = ClusterState.__new__(ClusterState)
    back.__setstate__(old_layout)
    assert back.burst_best == -1 and set(back.members) == set(st.members)
    assert model.features(back, 1.7e9) == model.features(st, 1.7e9)
    assert pickle.loads(pickle.dumps(st)).burst_best == st.burst_best
