"""Timeline: stored intervals by UTC instant, fetch groups, slices, merges and eviction."""

from __future__ import annotations

from array import array
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepool.model import Group, PriceInterval, Span
from pricepool.timeline import Merge, Timeline, ordered

from .helpers_parts import FETCHED, HOUR, OSLO, QUARTER, T0, at_seconds, hours, keys, merge


def h(n: float) -> int:
    """``T0`` plus ``n`` hours, in POSIX seconds."""
    return T0 + int(n * HOUR)


def gid(result: Merge) -> int:
    """The group a merge made; fails the test when it made none."""
    assert result.group is not None
    return result.group


def totals(items: list[PriceInterval]) -> list[float]:
    return [i.total for i in items]


def all_of(timeline: Timeline) -> list[PriceInterval]:
    return timeline.slice(h(-1000), h(1000))


# ---------------------------------------------------------------- merge and slice


def test_merge_into_an_empty_timeline_holds_the_intervals_in_one_group() -> None:
    timeline = Timeline()
    items = hours(0, 1, 2)
    result = merge(timeline, h(0), h(3), items)
    assert all_of(timeline) == items
    assert len(timeline) == 3
    assert (result.added, result.revised, result.removed) == (3, 0, 0)
    assert result.group is not None
    assert [g.id for g in timeline.groups] == [result.group]
    group = next(timeline.groups)
    assert group.span == Span.from_seconds(h(0), h(3))
    assert group.fetched_at == FETCHED
    assert timeline.size(result.group) == 3


def test_merge_accepts_intervals_given_out_of_start_order_of_merges() -> None:
    timeline = Timeline()
    merge(timeline, h(5), h(7), hours(5, 6))
    merge(timeline, h(0), h(2), hours(0, 1))
    merge(timeline, h(3), h(4), hours(3))
    assert keys(all_of(timeline)) == [h(0), h(1), h(3), h(5), h(6)]


def test_slice_is_start_inclusive_and_end_exclusive() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(4), hours(0, 1, 2, 3))
    assert keys(timeline.slice(h(1), h(3))) == [h(1), h(2)]
    assert keys(timeline.slice(h(1), h(1) + 1)) == [h(1)]
    assert timeline.slice(h(1), h(1)) == []
    assert timeline.slice(h(4), h(10)) == []
    assert timeline.slice(h(-5), h(0)) == []


def test_slice_with_off_grid_bounds_returns_only_intervals_starting_inside() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(4), hours(0, 1, 2, 3))
    # 00:47 lies inside the 00:00 interval, which starts before the bound: not returned.
    assert keys(timeline.slice(h(0) + 47 * 60, h(2) + 1)) == [h(1), h(2)]
    assert keys(timeline.slice(h(0) + 1, h(1) - 1)) == []


def test_merge_replaces_the_whole_answered_span_hourly_by_quarter_hours() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(4), hours(0, 1, 2, 3, total=0.5))
    quarters = [at_seconds(h(0) + n * QUARTER, QUARTER, 0.1) for n in range(8)]
    result = merge(timeline, h(0), h(2), quarters)
    got = all_of(timeline)
    assert keys(got) == [*keys(quarters), h(2), h(3)]
    assert [i.length for i in got] == [timedelta(minutes=15)] * 8 + [timedelta(hours=1)] * 2
    # Both hourly starts are also quarter starts with another price: revised, not removed.
    assert (result.added, result.revised, result.removed) == (6, 2, 0)


def test_merge_of_an_answer_without_intervals_empties_the_span_and_makes_no_group() -> None:
    timeline = Timeline()
    first = merge(timeline, h(0), h(4), hours(0, 1, 2, 3))
    result = merge(timeline, h(1), h(3), [])
    assert result.group is None
    assert (result.added, result.revised, result.removed) == (0, 0, 2)
    assert keys(all_of(timeline)) == [h(0), h(3)]
    assert [g.id for g in timeline.groups] == [first.group]
    assert first.group is not None
    assert timeline.size(first.group) == 2


def test_merge_counts_revisions_only_for_changed_values() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(4), hours(0, 1, 2, 3, total=0.5))
    again = [*hours(0, 1, total=0.5), *hours(2, total=0.7), *hours(3, total=0.5)]
    result = merge(timeline, h(0), h(4), again)
    assert (result.added, result.revised, result.removed) == (0, 1, 0)
    assert totals(all_of(timeline)) == [0.5, 0.5, 0.7, 0.5]


def test_merge_counts_removed_intervals_the_new_answer_no_longer_has() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(4), hours(0, 1, 2, 3))
    result = merge(timeline, h(0), h(4), hours(1, 3))
    assert (result.added, result.revised, result.removed) == (0, 0, 2)
    assert keys(all_of(timeline)) == [h(1), h(3)]


def test_merge_leaves_intervals_outside_the_span_untouched() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(6), hours(0, 1, 2, 3, 4, 5, total=0.5))
    merge(timeline, h(2), h(4), hours(2, 3, total=0.9))
    assert totals(all_of(timeline)) == [0.5, 0.5, 0.9, 0.9, 0.5, 0.5]


def test_compaction_regression_cached_00_05_refetch_00_01_and_new_05_returns_all_six() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(5), hours(0, 1, 2, 3, 4, total=0.5))
    merge(timeline, h(0), h(2), hours(0, 1, total=0.8))
    merge(timeline, h(5), h(6), hours(5, total=0.6))
    got = timeline.slice(h(0), h(6))
    assert keys(got) == [h(n) for n in range(6)]
    assert totals(got) == [0.8, 0.8, 0.5, 0.5, 0.5, 0.6]
    assert keys(timeline.slice(h(1), h(6))) == [h(n) for n in range(1, 6)]
    assert len(timeline) == 6


# ---------------------------------------------------------------- groups


def test_group_ids_only_grow_and_groups_come_oldest_fetch_first() -> None:
    timeline = Timeline()
    ids = [
        gid(merge(timeline, h(10), h(11), hours(10))),
        gid(merge(timeline, h(0), h(1), hours(0))),
        gid(merge(timeline, h(5), h(6), hours(5))),
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert [g.id for g in timeline.groups] == ids
    assert timeline.group_count == 3


def test_fully_replaced_group_disappears() -> None:
    timeline = Timeline()
    old = merge(timeline, h(0), h(3), hours(0, 1, 2)).group
    new = merge(timeline, h(0), h(3), hours(0, 1, 2, total=0.9)).group
    assert old is not None
    assert new is not None
    assert [g.id for g in timeline.groups] == [new]
    assert timeline.group_count == 1
    assert timeline.size(old) == 0
    assert timeline.size(new) == 3


def test_re_fetched_intervals_move_to_the_newer_group() -> None:
    timeline = Timeline()
    old = merge(timeline, h(0), h(4), hours(0, 1, 2, 3)).group
    new = merge(timeline, h(1), h(3), hours(1, 2)).group
    assert old is not None
    assert new is not None
    assert (timeline.size(old), timeline.size(new)) == (2, 2)
    assert timeline.groups_in(h(0), h(1)) == {old}
    assert timeline.groups_in(h(1), h(3)) == {new}
    assert timeline.groups_in(h(0), h(4)) == {old, new}
    assert timeline.groups_in(h(4), h(8)) == set()


def test_group_replaced_by_an_empty_answer_disappears() -> None:
    timeline = Timeline()
    old = merge(timeline, h(0), h(2), hours(0, 1)).group
    merge(timeline, h(0), h(2), [])
    assert timeline.group_count == 0
    assert old is not None
    assert timeline.size(old) == 0
    assert len(timeline) == 0


# ---------------------------------------------------------------- evict


def test_evict_drops_the_group_and_returns_its_whole_span_as_lost() -> None:
    timeline = Timeline()
    keep = merge(timeline, h(0), h(2), hours(0, 1)).group
    gone = merge(timeline, h(4), h(8), hours(4, 6)).group  # answered 4..8, only two intervals
    assert gone is not None
    assert timeline.evict(gone) == (2, [(h(4), h(8))])
    assert keys(all_of(timeline)) == [h(0), h(1)]
    assert [g.id for g in timeline.groups] == [keep]


def test_evict_keeps_what_other_groups_hold_inside_the_span_and_reports_the_rest() -> None:
    timeline = Timeline()
    old = merge(timeline, h(0), h(6), hours(0, 1, 2, 3, 4, 5, total=0.5)).group
    merge(timeline, h(2), h(3), hours(2, total=0.9))
    quarters = [at_seconds(h(4) + n * QUARTER, QUARTER, 0.7) for n in range(2)]
    merge(timeline, h(4), h(4.5), quarters)
    assert old is not None
    dropped, lost = timeline.evict(old)
    assert dropped == 4  # 00, 01, 03, 05
    assert lost == [(h(0), h(2)), (h(3), h(4)), (h(4.5), h(6))]
    assert keys(all_of(timeline)) == [h(2), *keys(quarters)]
    assert timeline.size(old) == 0


def test_evict_of_an_unknown_group_raises_key_error() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(1), hours(0))
    with pytest.raises(KeyError):
        timeline.evict(999)
    assert len(timeline) == 1


# ---------------------------------------------------------------- load and columns


def stored() -> tuple[list[Group], list[PriceInterval], list[int]]:
    groups = [
        Group(3, FETCHED, Span.from_seconds(h(0), h(2))),
        Group(7, FETCHED, Span.from_seconds(h(2), h(4))),
    ]
    return groups, hours(0, 1, 2, 3), [3, 3, 7, 7]


def test_load_restores_intervals_groups_and_continues_ids_after_the_largest() -> None:
    groups, items, owners = stored()
    dead = Group(9, FETCHED, Span.from_seconds(h(8), h(9)))
    timeline = Timeline()
    timeline.load([*groups, dead], items, owners)
    assert all_of(timeline) == items
    assert [g.id for g in timeline.groups] == [3, 7]  # a group without intervals is not kept
    assert (timeline.size(3), timeline.size(7)) == (2, 2)
    fresh = merge(timeline, h(10), h(11), hours(10)).group
    assert fresh is not None
    assert fresh > 9


def test_load_replaces_what_was_held() -> None:
    timeline = Timeline()
    merge(timeline, h(50), h(51), hours(50))
    timeline.load(*stored())
    assert keys(all_of(timeline)) == [h(0), h(1), h(2), h(3)]
    assert timeline.group_count == 2


@pytest.mark.parametrize(
    ("items", "owners", "message"),
    [
        (hours(1, 0, 2, 3), [3, 3, 7, 7], "sorted"),
        (hours(0, 1, 1, 3), [3, 3, 7, 7], "duplicates"),
        (hours(0, 1, 2, 3), [3, 3, 7, 8], "unknown fetch group 8"),
    ],
)
def test_load_rejects_inconsistent_input_and_keeps_what_was_held(
    items: list[PriceInterval], owners: list[int], message: str
) -> None:
    groups, _, _ = stored()
    timeline = Timeline()
    merge(timeline, h(50), h(51), hours(50))
    with pytest.raises(ValueError, match=message):
        timeline.load(groups, items, owners)
    assert keys(all_of(timeline)) == [h(50)]


def test_load_rejects_owners_not_parallel_to_intervals() -> None:
    groups, items, _ = stored()
    timeline = Timeline()
    with pytest.raises(ValueError, match="owner"):
        timeline.load(groups, items, [3, 3, 7])


def test_columns_are_copies_that_do_not_alias_the_timeline() -> None:
    timeline = Timeline()
    group = gid(merge(timeline, h(0), h(3), hours(0, 1, 2)))
    values, owners = timeline.columns()
    assert values == hours(0, 1, 2)
    assert owners == array("q", [group, group, group])
    values.clear()
    owners[0] = 12345
    assert len(all_of(timeline)) == 3
    assert timeline.columns()[1] == array("q", [group, group, group])


def test_columns_round_trip_through_load() -> None:
    timeline = Timeline()
    merge(timeline, h(0), h(4), hours(0, 1, 2, 3, total=0.5))
    merge(timeline, h(1), h(2), hours(1, total=0.9))
    values, owners = timeline.columns()
    copy = Timeline()
    copy.load(list(timeline.groups), values, owners)
    assert all_of(copy) == all_of(timeline)
    assert [(g.id, copy.size(g.id)) for g in copy.groups] == [
        (g.id, timeline.size(g.id)) for g in timeline.groups
    ]


# ---------------------------------------------------------------- a model to compare with

UNITS = 24  # quarter-hours in the model's world
PRICES = [0.1, 0.2]  # few values, so that unchanged re-fetches happen often

spans = (
    st.tuples(st.integers(0, UNITS), st.integers(0, UNITS))
    .map(sorted)
    .filter(lambda s: s[0] < s[1])
)
Operation = tuple[str, tuple[int, int], dict[int, float], int]
merges = spans.flatmap(
    lambda s: st.tuples(
        st.just("merge"),
        st.just((s[0], s[1])),
        st.dictionaries(st.integers(s[0], s[1] - 1), st.sampled_from(PRICES)),
        st.just(0),
    )
)
no_prices: dict[int, float] = {}
evictions = st.tuples(st.just("evict"), st.just((0, 0)), st.just(no_prices), st.integers(0, 10))
operations: st.SearchStrategy[list[Operation]] = st.lists(st.one_of(merges, evictions), max_size=14)


def unit(n: int) -> int:
    return T0 + n * QUARTER


@settings(max_examples=150, deadline=None)
@given(operations, st.data())
def test_timeline_matches_a_dict_of_intervals(
    operations: list[Operation], data: st.DataObject
) -> None:
    timeline = Timeline()
    held: dict[int, tuple[float, int]] = {}  # unit -> (total, group)
    spans_of: dict[int, tuple[int, int]] = {}
    for kind, (lo, hi), prices, pick in operations:
        if kind == "merge":
            items = [at_seconds(unit(u), QUARTER, prices[u]) for u in sorted(prices)]
            before = {u: held[u][0] for u in range(lo, hi) if u in held}
            result = merge(timeline, unit(lo), unit(hi), items)
            assert result.added == len(set(prices) - set(before))
            assert result.revised == len([u for u, p in prices.items() if before.get(u, p) != p])
            assert result.removed == len(set(before) - set(prices))
            for u in before:
                del held[u]
            if prices:
                assert result.group is not None
                assert all(result.group > g for g in spans_of)
                spans_of[result.group] = (lo, hi)
                held.update({u: (p, result.group) for u, p in prices.items()})
            else:
                assert result.group is None
        else:
            live = sorted({g for _, g in held.values()})
            if not live:
                continue
            victim = live[pick % len(live)]
            lo, hi = spans_of[victim]
            dropped, lost = timeline.evict(victim)
            assert dropped == sum(1 for _, g in held.values() if g == victim)
            held = {u: v for u, v in held.items() if v[1] != victim}
            free = [u for u in range(lo, hi) if u not in held]
            expected = [(unit(u), unit(u + 1)) for u in free]
            # Adjacent free quarter-hours form one lost span.
            joined: list[tuple[int, int]] = []
            for a, b in expected:
                if joined and joined[-1][1] == a:
                    joined[-1] = (joined[-1][0], b)
                else:
                    joined.append((a, b))
            assert lost == joined

        everything = all_of(timeline)
        assert keys(everything) == [unit(u) for u in sorted(held)]
        assert totals(everything) == [held[u][0] for u in sorted(held)]
        live = sorted({g for _, g in held.values()})
        assert [g.id for g in timeline.groups] == live
        assert timeline.group_count == len(live)
        for g in live:
            assert timeline.size(g) == sum(1 for _, owner in held.values() if owner == g)
        lo_s = data.draw(st.integers(unit(-2), unit(UNITS + 2)), label="slice start")
        hi_s = data.draw(st.integers(lo_s, unit(UNITS + 2)), label="slice end")
        assert keys(timeline.slice(lo_s, hi_s)) == [
            unit(u) for u in sorted(held) if lo_s <= unit(u) < hi_s
        ]


def test_ordered_sorts_clips_and_shows_intervals_in_the_home_zone() -> None:
    given_ = [at_seconds(h(n)) for n in (3, 0, 2, 1, 5)]
    starts, kept = ordered(given_, T0, h(4), OSLO)
    assert starts == [h(n) for n in range(4)]
    assert [i.start.timestamp() for i in kept] == starts
    assert {i.start.tzinfo for i in kept} == {OSLO}


def test_ordered_refuses_overlapping_intervals() -> None:
    # An hour at 00:00 and a quarter-hour at 00:30 overlap, whatever their order given.
    overlapping = [at_seconds(h(0.5), QUARTER), at_seconds(T0)]
    with pytest.raises(ValueError, match="overlapping intervals at"):
        ordered(overlapping, T0, h(2), OSLO)
