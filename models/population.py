"""Population anomaly model: River's HalfSpaceTrees, with its trees' masses in flat arrays.

The account and cluster models score each summary against the population and then learn it.
River builds the trees (``make_padded_tree``, from the first observation, with the model's
seed); from then on the model keeps each tree's split features, thresholds and masses in flat
arrays, in heap order (children of node ``i`` at ``2i+1`` and ``2i+2``), and walks them in C
(``models/_hstkernel.c``; :func:`_py_walk` is its Python twin). ``score_learn_one`` scores and
learns in one walk per tree. Scores and masses are exactly those of River's ``score_one(x)``
followed by ``learn_one(x)`` (``tests/test_account.py`` checks it against River itself). The
state is a few arrays: cheap to copy and pickle.

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

from array import array
from typing import Any

from river import anomaly

try:  # the walk in C (models/_hstkernel.c); Python if not built
    from models import _hstkernel as _kernel  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernel = None


class FlatTrees:
    """The trees of a HalfSpaceTrees in arrays: ``T`` trees of ``N = 2**(height+1) - 1`` nodes."""

    __slots__ = ("features", "height", "l_mass", "n_nodes", "n_trees", "node_feature", "r_mass", "threshold")

    def __init__(self, trees: list[Any], height: int) -> None:
        self.height = height
        self.n_trees = len(trees)
        self.n_nodes = n = (1 << (height + 1)) - 1
        size = self.n_trees * n
        branches = (n - 1) // 2  # the first nodes in heap order; the rest are leaves
        orders = [_heap_order(root, height) for root in trees]
        self.features = tuple(sorted({node.feature for nodes in orders for node in nodes[:branches]}, key=repr))
        index = {f: i for i, f in enumerate(self.features)}
        self.node_feature = array("B", bytes(size))
        self.threshold = array("d", [0.0]) * size
        self.l_mass = array("q", bytes(8 * size))
        self.r_mass = array("q", bytes(8 * size))
        for t, nodes in enumerate(orders):
            for i, node in enumerate(nodes):
                k = t * n + i
                self.l_mass[k] = node.l_mass
                self.r_mass[k] = node.r_mass
                if i < branches:
                    self.node_feature[k] = index[node.feature]
                    self.threshold[k] = node.threshold

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, st: tuple[Any, ...]) -> None:
        for k, v in zip(self.__slots__, st, strict=True):
            setattr(self, k, v)

    def values(self, x: dict[Any, Any]) -> tuple[array[float], bytes]:
        """x as (values by feature index, present flags)."""
        vals = array("d", [0.0]) * len(self.features)
        present = bytearray(len(self.features))
        for i, f in enumerate(self.features):
            v = x.get(f)
            if v is not None:
                vals[i] = v
                present[i] = 1
        return vals, bytes(present)

    def pivot(self) -> None:
        """End of a window: the masses learnt become the reference masses."""
        self.r_mass = self.l_mass
        self.l_mass = array("q", bytes(8 * len(self.r_mass)))


def _heap_order(root: Any, height: int) -> list[Any]:
    level = [root]
    out: list[Any] = []
    for _ in range(height + 1):
        out.extend(level)
        level = [c for node in level for c in getattr(node, "children", ())]
    return out


def _py_walk(ft: FlatTrees, x: dict[Any, Any], size_limit: float, learn: bool) -> float:
    """The reference mass River's ``score_one`` sums; with ``learn``, ``learn_one`` too."""
    vals, present = ft.values(x)
    n, height = ft.n_nodes, ft.height
    lm, rm, feat, thr = ft.l_mass, ft.r_mass, ft.node_feature, ft.threshold
    total = 0.0
    for t in range(ft.n_trees):
        base = t * n
        i = 0
        depth_pow = 1
        scoring = True
        for _ in range(height):
            k = base + i
            if learn:
                lm[k] += 1
            if scoring:
                r = rm[k]
                total += r * depth_pow
                # River's walk stops scoring where the reference mass gets too small.
                scoring = r >= size_limit
                depth_pow <<= 1
                if not scoring and not learn:
                    break
            f = feat[k]
            if present[f]:
                i = 2 * i + 1 if vals[f] < thr[k] else 2 * i + 2
            else:  # a missing feature: the child visited more in this window
                i = 2 * i + 2 if lm[base + 2 * i + 1] < lm[base + 2 * i + 2] else 2 * i + 1
        else:
            k = base + i
            if learn:
                lm[k] += 1
            if scoring:
                total += rm[k] * depth_pow
    return total


class FusedHalfSpaceTrees(anomaly.HalfSpaceTrees):
    """``HalfSpaceTrees`` over :class:`FlatTrees`, with :meth:`score_learn_one`."""

    flat: FlatTrees | None = None  # built with River's trees, at the first observation

    @property
    def ready(self) -> bool:
        """True once a first window has been learnt: before, River's ``score_one`` says 0."""
        return self.flat is not None and not self._first_window

    def _walk(self, x: dict[Any, Any], learn: bool) -> float:
        ft = self.flat
        assert ft is not None
        size_limit = 0.1 * self.window_size
        if _kernel is not None and type(x) is dict:
            total: float = _kernel.walk(ft, x, size_limit, learn)
            return total
        return _py_walk(ft, x, size_limit, learn)

    def _learnt(self) -> None:
        self.counter += 1
        if self.counter == self.window_size:
            assert self.flat is not None
            self.flat.pivot()
            self._first_window = False
            self.counter = 0

    def learn_one(self, x: dict[Any, Any]) -> None:
        if self.flat is None:
            super().learn_one(x)  # River builds its trees (or goes on with a model from before)
            self.flat = FlatTrees(self.trees, self.height)
            self.trees, self._tree_nodes = [], []  # the arrays hold the model from now on
            return
        self._walk(x, learn=True)
        self._learnt()

    def score_one(self, x: dict[Any, Any]) -> float:
        if not self.ready:
            return 0.0
        return 1.0 - self._walk(x, learn=False) / self._max_score

    def score_learn_one(self, x: dict[str, Any]) -> float:
        """``score_one(x)`` then ``learn_one(x)``, in one walk per tree."""
        if not self.ready:
            self.learn_one(x)
            return 0.0
        total = self._walk(x, learn=True)
        self._learnt()
        return 1.0 - total / self._max_score
