"""Span algebra: union, subtract and missing agree with a set of seconds."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from pricepool.spans import Edge, missing, subtract, union

edges = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 20)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=8,
)


def seconds(spans: list[Edge]) -> set[int]:
    return {s for lo, hi in spans for s in range(lo, hi)}


def test_union_joins_touching_and_overlapping_spans_and_drops_empty_ones() -> None:
    assert union([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == [(0, 3), (5, 9)]


def test_subtract_leaves_the_parts_between_holes() -> None:
    assert subtract(0, 10, [(2, 3), (5, 12)]) == [(0, 2), (3, 5)]
    assert subtract(0, 10, []) == [(0, 10)]
    assert subtract(0, 10, [(0, 10)]) == []


@given(edges, st.integers(0, 50), st.integers(1, 40))
def test_union_subtract_and_missing_agree_with_sets(spans: list[Edge], a: int, n: int) -> None:
    b = a + n
    joined = union(spans)
    assert seconds(joined) == seconds(spans)
    assert all(x[1] < y[0] for x, y in itertools.pairwise(joined))  # not touching
    expected = set(range(a, b)) - seconds(spans)
    assert seconds(subtract(a, b, joined)) == expected
    starts = [lo for lo, _ in joined]
    ends = [hi for _, hi in joined]
    assert missing(a, b, starts, ends) == subtract(a, b, joined)


def test_coverage_keeps_the_old_names_importable() -> None:
    from pricepool import coverage

    assert coverage.union is union
    assert coverage.subtract is subtract
