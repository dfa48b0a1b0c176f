from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st_

from models.config import LinkerSettings
from models.linker import Linker


def test_shared_payment_links() -> None:
    lk = Linker(LinkerSettings())
    lk.link("b", "payment", 1)
    changes = lk.link("a", "payment", 1)
    assert dict(changes) == {"a": "cl:a", "b": "cl:a"}
    assert lk.members("cl:a") == ["a", "b"]


def test_popular_user_agent_and_cloud_asn_do_not_glue() -> None:
    lk = Linker(LinkerSettings())
    for i in range(500):
        lk.link(f"u{i:04d}", "asn_ua", 42)  # popular SDK user agent on a big cloud ASN
    assert lk.stats()["clusters"] <= 1
    assert max(lk.stats()["largest"] or [0]) <= LinkerSettings().soft_cap["asn_ua"] + 1


def test_university_nat_does_not_glue_unrelated_accounts() -> None:
    lk = Linker(LinkerSettings())
    # 300 students behind one /24, each with its own card, most with the popular user agent
    for i in range(300):
        acct = f"s{i:03d}"
        lk.link(acct, "ip24", 7)
        lk.link(acct, "payment", 10_000 + i)
        lk.link(acct, "asn_ua", 1 if i % 3 else 2)
    sizes = lk.stats()["largest"]
    assert not sizes or max(sizes) <= 2


def test_two_weak_attributes_link_but_one_does_not() -> None:
    lk = Linker(LinkerSettings())
    lk.link("a", "ip24", 5)
    assert lk.link("b", "ip24", 5) == []  # 0.5 < 1.0
    lk.link("a", "system_prompt", 9)
    assert dict(lk.link("b", "system_prompt", 9)) == {"a": "cl:a", "b": "cl:a"}  # 0.5 + 0.7


def test_first_sighting_links_only_to_an_established_template() -> None:
    s = LinkerSettings()
    lk = Linker(s)
    lk.link("x1", "template_cot", 99)
    assert lk.link("new", "template_seen", 99) == []  # one systematic user: not established
    for i in range(2, s.established_template + 1):
        lk.link(f"x{i}", "template_cot", 99)
    assert lk.link("new2", "template_seen", 99) != []
    assert lk.cluster_of("new2") == lk.cluster_of("x1")


def test_unmarked_template_alone_does_not_link() -> None:
    lk = Linker(LinkerSettings())
    lk.link("a", "template", 3)
    assert lk.link("b", "template", 3) == []
    lk.link("a", "template", 4)
    assert lk.link("b", "template", 4) != []  # two shared templates: 0.5 + 0.5


def test_cluster_names_do_not_depend_on_arrival_order() -> None:
    pairs = [("m", "payment", 1), ("c", "payment", 1), ("x", "payment", 2), ("c", "payment", 2)]
    a, b = Linker(LinkerSettings()), Linker(LinkerSettings())
    for p in pairs:
        a.link(*p)
    for p in reversed(pairs):
        b.link(*p)
    assert a.cluster_of("m") == b.cluster_of("m") == "cl:c"
    assert a.members("cl:c") == b.members("cl:c") == ["c", "m", "x"]


@settings(max_examples=200, deadline=None)
@given(
    st_.lists(
        st_.tuples(
            st_.integers(0, 40),  # account
            st_.sampled_from(["payment", "ip24", "asn_ua", "template_cot", "template_seen", "template"]),
            st_.integers(0, 5),  # value
        ),
        max_size=400,
    )
)
def test_remembering_joined_values_changes_nothing(links: list[tuple[int, str, int]]) -> None:
    """The shortcut for values whose holders are all in one component gives the same changes."""
    s = LinkerSettings(max_holders_kept=6, soft_cap={"ip24": 3, "asn_ua": 2}, hard_cap={"ip24": 12, "asn_ua": 6})
    fast, slow = Linker(s), Linker(s)
    for acct, kind, value in links:
        slow._joined.clear()  # never remembers: always scans every holder
        assert fast.link(f"a{acct}", kind, value) == slow.link(f"a{acct}", kind, value)
    assert fast.stats() == slow.stats()
