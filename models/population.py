"""Population anomaly model: River's HalfSpaceTrees, scored and learnt in one walk.

The account and cluster models score each summary against the population and then learn it.
River's ``score_one`` and ``learn_one`` each walk every tree from the root; ``score_learn_one``
does both in one walk per tree. The result, and the trees' state afterwards, are exactly those
of ``score_one(x)`` followed by ``learn_one(x)`` (``tests/test_account.py`` checks it).

>>> import random
>>> rng = random.Random(1)
>>> hst = FusedHalfSpaceTrees(n_trees=5, height=4, window_size=20, seed=3)
>>> for _ in range(60):
...     s = hst.score_learn_one({"a": rng.random() * 0.2, "b": rng.random() * 0.2})
>>> normal = hst.score_one({"a": 0.1, "b": 0.1})
>>> odd = hst.score_one({"a": 0.95, "b": 0.9})
>>> odd > normal
True
"""

from __future__ import annotations

from typing import Any

from river import anomaly

try:  # the tree walk in C (models/_hstkernel.c); Python if not built
    from models import _hstkernel as _kernel  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernel = None


class FusedHalfSpaceTrees(anomaly.HalfSpaceTrees):
    """``HalfSpaceTrees`` with :meth:`score_learn_one`."""

    @property
    def ready(self) -> bool:
        """True once a first window has been learnt: before, River's ``score_one`` says 0."""
        return bool(self.trees) and not self._first_window

    def score_learn_one(self, x: dict[str, Any]) -> float:
        """``score_one(x)`` then ``learn_one(x)``, in one walk per tree."""
        if not self.ready:
            self.learn_one(x)
            return 0.0
        size_limit = 0.1 * self.window_size
        if _kernel is not None and type(x) is dict:
            total = _kernel.walk(self.trees, x, self.height, size_limit)
        else:
            total = self._py_walk(x, size_limit)
        self.counter += 1
        if self.counter == self.window_size:
            for nodes in self._tree_nodes:
                for n in nodes:
                    n.r_mass = n.l_mass
                    n.l_mass = 0
            self._first_window = False
            self.counter = 0
        return 1.0 - total / self._max_score

    def _py_walk(self, x: dict[str, Any], size_limit: float) -> float:
        """Learn x along each tree's path; the reference mass River's ``score_one`` sums."""
        height = self.height
        total = 0.0
        for node in self.trees:
            depth_pow = 1
            scoring = True
            for _ in range(height):
                node.l_mass += 1
                if scoring:
                    r = node.r_mass
                    total += r * depth_pow
                    # River's walk stops scoring where the reference mass gets too small.
                    scoring = r >= size_limit
                    depth_pow <<= 1
                try:
                    value = x[node.feature]
                except KeyError:
                    c = node.children
                    node = c[1] if c[0].l_mass < c[1].l_mass else c[0]
                else:
                    c = node.children
                    node = c[0] if value < node.threshold else c[1]
            node.l_mass += 1
            if scoring:
                total += node.r_mass * depth_pow
        return total
