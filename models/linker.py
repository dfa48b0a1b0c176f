"""Linker: union-find over accounts joined by shared, rare-enough attribute values.

A link event says "account A shows value v of kind k" (a payment fingerprint, an IP /24 or /48,
an ASN with user agent, a system prompt, a template it uses systematically). Two accounts are
merged only when the evidence they share reaches ``threshold``: the sum over shared kinds of the
kind's weight times the rarity of the shared value. Rarity is 1 while a value has at most
``soft_cap`` holders and falls linearly to 0 at ``hard_cap``; a popular SDK user agent, a cloud
ASN or a university NAT therefore weigh nothing, and unrelated accounts behind them stay apart.

A cluster is named after its smallest account id (``cl:<id>``), so the final partition and the
names do not depend on the order link events arrive in.

>>> from models.config import LinkerSettings
>>> lk = Linker(LinkerSettings())
>>> lk.link("a", "payment", 11)
[]
>>> lk.link("b", "payment", 11)
[('a', 'cl:a'), ('b', 'cl:a')]
>>> lk.cluster_of("b"), lk.members("cl:a")
('cl:a', ['a', 'b'])
"""

from __future__ import annotations

from typing import Any

from models.config import LinkerSettings

Membership = tuple[str, str | None]  # (account, new cluster id or None)
_JOINED_MIN = 4  # below this many holders, scanning them costs less than remembering


class Linker:
    def __init__(self, settings: LinkerSettings) -> None:
        self.s = settings
        self.parent: dict[str, str] = {}
        self.size: dict[str, int] = {}
        self.min_id: dict[str, str] = {}  # root -> smallest member id
        self.member_list: dict[str, list[str]] = {}  # root -> members (components of size >= 2)
        self.holders: dict[tuple[str, int], list[str]] = {}  # value -> first holders kept
        self.holder_count: dict[tuple[str, int], int] = {}
        # account -> its values; True where the account uses the value systematically (templates)
        self.values: dict[str, dict[tuple[str, int], bool]] = {}
        self.systematic_count: dict[tuple[str, int], int] = {}
        self.merges = 0
        # Values whose holders are all in one component (remembered from ``_JOINED_MIN`` holders)
        self._joined: set[tuple[str, int]] = set()
        self._caps: dict[str, tuple[int, int]] = {}  # kind -> (soft cap, hard cap)
        # kind -> (weight, cap on the evidence of that kind): several templates count up to twice
        # the weight, other kinds once.
        self._weights = {k: (w, 2.0 * w if k.startswith("template") else w) for k, w in settings.weights.items()}

    # -- union-find ---------------------------------------------------------------------------
    def find(self, a: str) -> str:
        parent = self.parent
        root = a
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(a, a) != root:  # path compression
            nxt = parent[a]
            parent[a] = root
            a = nxt
        return root

    def cluster_of(self, account: str) -> str | None:
        if account not in self.parent:
            return None
        root = self.find(account)
        if self.size.get(root, 1) < 2:
            return None
        return "cl:" + self.min_id[root]

    def members(self, cluster_id: str) -> list[str]:
        acct = cluster_id[3:]
        if acct not in self.parent:
            return []
        return sorted(self.member_list.get(self.find(acct), [acct]))

    def _union(self, a: str, b: str) -> list[Membership]:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return []
        sa, sb = self.size.get(ra, 1), self.size.get(rb, 1)
        if sa < sb or (sa == sb and rb < ra):
            ra, rb, sa, sb = rb, ra, sb, sa
        old_a = self.min_id.get(ra, ra)
        old_b = self.min_id.get(rb, rb)
        new_min = min(old_a, old_b)
        self.parent[rb] = ra
        self.size[ra] = sa + sb
        self.min_id[ra] = new_min
        big = self.member_list.pop(ra, None) or [ra]
        small = self.member_list.pop(rb, None) or [rb]
        self.size.pop(rb, None)
        self.min_id.pop(rb, None)
        new_cluster = "cl:" + new_min
        # Only members whose cluster name changes move (a singleton had no cluster before).
        moved: list[str] = []
        if new_min != old_b or sb == 1:
            moved.extend(small)
        if new_min != old_a or sa == 1:
            moved.extend(big)
        big.extend(small)
        self.member_list[ra] = big
        self.merges += 1
        return [(m, new_cluster) for m in sorted(moved)]

    # -- evidence -----------------------------------------------------------------------------
    def rarity(self, kind: str, holders: int) -> float:
        caps = self._caps.get(kind)
        if caps is None:
            base = "ip" if kind in ("ip24", "ip48") else kind
            caps = self._caps[kind] = (
                self.s.soft_cap.get(kind, self.s.soft_cap.get(base, 8)),
                self.s.hard_cap.get(kind, self.s.hard_cap.get(base, 64)),
            )
        soft, hard = caps
        if holders <= soft:
            return 1.0
        if holders >= hard:
            return 0.0
        return (hard - holders) / (hard - soft)

    def pair_evidence(self, a: str, b: str) -> float:
        va, vb = self.values.get(a, {}), self.values.get(b, {})
        if len(vb) < len(va):
            va, vb = vb, va
        weights = self._weights
        per_kind: dict[str, float] = {}
        for key, sys_a in va.items():
            sys_b = vb.get(key)
            if sys_b is not None:
                kind = key[0]
                # A first sighting of a template links only to an established one: several
                # accounts already use it systematically.
                if (
                    kind == "template_cot"
                    and not (sys_a and sys_b)
                    and (not (sys_a or sys_b) or self.systematic_count.get(key, 0) < self.s.established_template)
                ):
                    continue
                w, cap = weights.get(kind, (0.0, 0.0))
                e = w * self.rarity(kind, self.holder_count.get(key, 0))
                # Kinds are independent evidence, each up to its cap.
                per_kind[kind] = min(per_kind.get(kind, 0.0) + e, cap)
        return sum(per_kind.values())

    def link(self, account: str, kind: str, value: int) -> list[Membership]:
        """Record that ``account`` shows ``value``; return cluster-membership changes.

        Kinds ``template_cot`` and ``template`` are templates the account uses systematically,
        with and without reasoning/grading markers; ``template_seen`` is a new account's first
        sighting of a template in a request with such markers, which links only to a
        ``template_cot`` that ``established_template`` accounts use systematically.
        """
        systematic = True
        if kind == "template_seen":
            kind, systematic = "template_cot", False
        key = (kind, value)
        vals = self.values.setdefault(account, {})
        known = vals.get(key)
        if known is not None and (known or not systematic):
            return []
        if known is None and len(vals) >= self.s.max_values_per_account:
            # Rotating attributes: forget the oldest value (dicts keep insertion order).
            vals.pop(next(iter(vals)))
        vals[key] = systematic
        if systematic and kind == "template_cot":
            self.systematic_count[key] = self.systematic_count.get(key, 0) + 1
        if account not in self.parent:
            self.parent[account] = account
        holders = self.holders.setdefault(key, [])
        if known is None:
            count = self.holder_count.get(key, 0) + 1
            self.holder_count[key] = count
        else:
            count = self.holder_count[key]
        changes: list[Membership] = []
        joined = False  # all holders end up in the account's component
        if self.rarity(kind, count) > 0.0:
            threshold = self.s.threshold
            parent = self.parent
            find = self.find
            root = find(account)
            joined = True
            # Components only ever merge: holders found in one component stay in one. When the
            # account is in it too, every holder would be skipped below.
            if key not in self._joined or find(holders[0]) != root:
                for other in holders:
                    p = parent[other]
                    # Most holders point straight at their root (path compression): skip find().
                    if p == root or (p != other and find(other) == root):
                        continue
                    if self.pair_evidence(account, other) >= threshold:
                        changes.extend(self._union(account, other))
                        root = find(account)
                    else:
                        joined = False
        if known is not None:
            pass  # an upgrade to systematic: already a holder
        elif len(holders) < self.s.max_holders_kept:
            holders.append(account)
        else:
            # Keep a rolling window of recent holders so that late joiners meet live accounts.
            holders[count % self.s.max_holders_kept] = account
        if joined and len(holders) >= _JOINED_MIN:
            self._joined.add(key)
        else:
            self._joined.discard(key)
        # Collapse repeated moves of one account into its final cluster.
        if len(changes) > 1:
            final: dict[str, str | None] = {}
            for acct, _ in changes:
                final[acct] = self.cluster_of(acct)
            return sorted(final.items())
        return changes

    def stats(self) -> dict[str, Any]:
        sizes = sorted((len(v) for v in self.member_list.values()), reverse=True)
        return {
            "accounts": len(self.parent),
            "clusters": len(sizes),
            "largest": sizes[:10],
            "values": len(self.holder_count),
            "merges": self.merges,
        }
