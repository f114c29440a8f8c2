"""Coverage: which spans the source answered, and which are pending until when."""

from __future__ import annotations

import itertools

from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pricepool.coverage import Coverage
from pricepool.errors import SourceUnavailableError


def covered(*spans: tuple[int, int]) -> Coverage:
    coverage = Coverage()
    for start, end in spans:
        coverage.record(start, end)
    return coverage


# ---------------------------------------------------------------- record


def test_new_coverage_covers_nothing_and_misses_everything() -> None:
    coverage = Coverage()
    assert list(coverage) == []
    assert not coverage.covers(0, 1)
    assert coverage.missing(10, 20) == [(10, 20)]


def test_record_keeps_disjoint_spans_apart_and_sorted() -> None:
    coverage = covered((50, 60), (10, 20), (30, 40))
    assert list(coverage) == [(10, 20), (30, 40), (50, 60)]
    assert len(coverage) == 3


def test_record_merges_overlapping_spans() -> None:
    assert list(covered((10, 20), (15, 30))) == [(10, 30)]
    assert list(covered((15, 30), (10, 20))) == [(10, 30)]
    assert list(covered((10, 40), (15, 20))) == [(10, 40)]
    assert list(covered((15, 20), (10, 40))) == [(10, 40)]


def test_record_joins_touching_spans() -> None:
    assert list(covered((10, 20), (20, 30))) == [(10, 30)]
    assert list(covered((20, 30), (10, 20))) == [(10, 30)]


def test_record_bridging_several_spans_collapses_them_into_one() -> None:
    coverage = covered((0, 5), (10, 15), (20, 25), (30, 35), (50, 60))
    coverage.record(3, 30)
    assert list(coverage) == [(0, 35), (50, 60)]


def test_record_of_an_empty_or_reversed_span_changes_nothing() -> None:
    coverage = covered((10, 20))
    coverage.record(30, 30)
    coverage.record(40, 35)
    assert list(coverage) == [(10, 20)]


# ---------------------------------------------------------------- covers, missing


def test_covers_only_when_the_whole_span_was_answered() -> None:
    coverage = covered((10, 20), (30, 40))
    assert coverage.covers(10, 20)
    assert coverage.covers(12, 18)
    assert not coverage.covers(9, 20)
    assert not coverage.covers(10, 21)
    assert not coverage.covers(15, 35)  # straddles the gap 20..30
    assert not coverage.covers(20, 30)
    assert not coverage.covers(0, 5)


def test_missing_returns_exactly_the_gaps() -> None:
    coverage = covered((10, 20), (30, 40), (60, 70))
    assert coverage.missing(0, 100) == [(0, 10), (20, 30), (40, 60), (70, 100)]
    assert coverage.missing(15, 35) == [(20, 30)]
    assert coverage.missing(10, 20) == []
    assert coverage.missing(20, 30) == [(20, 30)]
    assert coverage.missing(45, 50) == [(45, 50)]
    assert coverage.missing(35, 65) == [(40, 60)]


# ---------------------------------------------------------------- forget


def test_forget_inside_a_span_splits_it() -> None:
    coverage = covered((0, 100))
    coverage.forget(40, 60)
    assert list(coverage) == [(0, 40), (60, 100)]
    assert coverage.missing(0, 100) == [(40, 60)]


def test_forget_over_several_spans_trims_the_edges_and_drops_the_inner_ones() -> None:
    coverage = covered((0, 10), (20, 30), (40, 50), (60, 70))
    coverage.forget(5, 45)
    assert list(coverage) == [(0, 5), (45, 50), (60, 70)]


def test_forget_of_exactly_one_span_removes_it_and_leaves_neighbours() -> None:
    coverage = covered((0, 10), (20, 30), (40, 50))
    coverage.forget(20, 30)
    assert list(coverage) == [(0, 10), (40, 50)]


def test_forget_of_an_unanswered_span_changes_nothing() -> None:
    coverage = covered((0, 10), (20, 30))
    coverage.forget(10, 20)
    coverage.forget(35, 50)
    coverage.forget(5, 5)
    assert list(coverage) == [(0, 10), (20, 30)]


# ---------------------------------------------------------------- pending


def test_waiting_reports_pending_parts_until_they_are_due() -> None:
    coverage = Coverage()
    coverage.defer(100, 200, retry_at=1000)
    assert coverage.waiting(0, 500, now=999) == [(100, 200)]
    assert coverage.waiting(150, 180, now=999) == [(150, 180)]
    assert coverage.waiting(0, 100, now=999) == []
    assert coverage.waiting(200, 300, now=999) == []
    assert coverage.waiting(0, 500, now=1000) == []


def test_waiting_drops_due_entries_for_good() -> None:
    coverage = Coverage()
    coverage.defer(100, 200, retry_at=1000)
    coverage.defer(300, 400, retry_at=2000)
    assert coverage.waiting(0, 50, now=1500) == []
    assert coverage.pending == [(300, 400, 2000)]
    # An earlier "now" does not bring the due entry back.
    assert coverage.waiting(0, 500, now=500) == [(300, 400)]


def test_record_clears_pending_inside_the_recorded_span_only() -> None:
    coverage = Coverage()
    coverage.defer(100, 200, retry_at=1000)
    coverage.record(120, 150)
    assert coverage.pending == [(100, 120, 1000), (150, 200, 1000)]
    assert coverage.waiting(0, 500, now=0) == [(100, 120), (150, 200)]
    coverage.record(0, 500)
    assert coverage.pending == []


def test_defer_replaces_older_word_on_the_same_span() -> None:
    coverage = Coverage()
    coverage.defer(100, 200, retry_at=1000)
    coverage.defer(100, 200, retry_at=5000)
    assert coverage.pending == [(100, 200, 5000)]
    assert coverage.waiting(0, 500, now=2000) == [(100, 200)]


def test_defer_over_part_of_a_pending_span_keeps_the_rest_with_its_own_time() -> None:
    coverage = Coverage()
    coverage.defer(100, 200, retry_at=1000)
    coverage.defer(150, 250, retry_at=3000)
    assert coverage.pending == [(100, 150, 1000), (150, 250, 3000)]
    assert coverage.waiting(0, 500, now=2000) == [(150, 250)]


def test_defer_of_an_empty_span_is_ignored() -> None:
    coverage = Coverage()
    coverage.defer(100, 100, retry_at=1000)
    assert coverage.pending == []
    assert coverage.waiting(0, 500, now=0) == []


def test_pending_does_not_count_as_covered() -> None:
    coverage = Coverage()
    coverage.defer(100, 200, retry_at=1000)
    assert not coverage.covers(100, 200)
    assert coverage.missing(0, 300) == [(0, 300)]


# ---------------------------------------------------------------- a model to compare with

LIMIT = 200
edges = st.tuples(st.integers(0, LIMIT), st.integers(0, LIMIT)).map(sorted)


def runs(seconds: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive seconds as ``[start, end)`` edges."""
    out: list[tuple[int, int]] = []
    for _, group in itertools.groupby(enumerate(sorted(seconds)), lambda p: p[1] - p[0]):
        run = [s for _, s in group]
        out.append((run[0], run[-1] + 1))
    return out


class CoverageAgainstSeconds(RuleBasedStateMachine):
    """Coverage next to a set of answered seconds and a map of pending seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.coverage = Coverage()
        self.answered: set[int] = set()
        self.pending: dict[int, int] = {}

    @rule(span=edges)
    def record(self, span: list[int]) -> None:
        start, end = span
        self.coverage.record(start, end)
        self.answered |= set(range(start, end))
        for second in range(start, end):
            self.pending.pop(second, None)

    @rule(span=edges)
    def forget(self, span: list[int]) -> None:
        start, end = span
        self.coverage.forget(start, end)
        self.answered -= set(range(start, end))

    @rule(span=edges, retry_at=st.integers(0, 50))
    def defer(self, span: list[int], retry_at: int) -> None:
        start, end = span
        # The pool defers only spans it had to ask for, so never answered ones.
        assume(not set(range(start, end)) & self.answered)
        self.coverage.defer(start, end, retry_at)
        for second in range(start, end):
            self.pending[second] = retry_at

    @rule(span=edges)
    def missing_is_the_runs_of_unanswered_seconds(self, span: list[int]) -> None:
        start, end = span
        expected = runs(set(range(start, end)) - self.answered)
        assert self.coverage.missing(start, end) == expected

    @rule(span=edges)
    def covers_when_every_second_was_answered(self, span: list[int]) -> None:
        start, end = span
        if start < end:
            assert self.coverage.covers(start, end) == (set(range(start, end)) <= self.answered)

    @rule(span=edges, now=st.integers(0, 50))
    def waiting_is_what_is_pending_and_not_yet_due(self, span: list[int], now: int) -> None:
        start, end = span
        got = self.coverage.waiting(start, end, now)
        self.pending = {s: due for s, due in self.pending.items() if due > now}
        seconds = [s for lo, hi in got for s in range(lo, hi)]
        assert len(seconds) == len(set(seconds)), f"overlapping pieces {got}"
        assert set(seconds) == {s for s in range(start, end) if s in self.pending}

    @invariant()
    def spans_are_the_runs_of_answered_seconds(self) -> None:
        assert list(self.coverage) == runs(self.answered)


CoverageAgainstSeconds.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
test_coverage_matches_a_set_of_seconds = CoverageAgainstSeconds.TestCase


# ---------------------------------------------------------------- failed


def test_fail_holds_a_span_with_its_error_until_due() -> None:
    coverage = Coverage()
    error = SourceUnavailableError("bad page")
    coverage.fail(10, 20, 100, error)
    assert coverage.waiting(0, 30, 50) == [(10, 20)]
    assert coverage.holds(15, 30, 50) == [(15, 20, 100, error)]
    assert coverage.pending == []  # a failure is not "unpublished", and not stored as such
    assert coverage.waiting(0, 30, 100) == []  # due: asked again
    assert coverage.failed == []


def test_an_answer_ends_a_failure_over_its_span_only() -> None:
    coverage = Coverage()
    error = SourceUnavailableError("down")
    coverage.fail(10, 40, 100, error)
    coverage.record(20, 30)
    assert coverage.holds(0, 50, 0) == [(10, 20, 100, error), (30, 40, 100, error)]


def test_pending_and_failed_replace_each_other() -> None:
    coverage = Coverage()
    error = SourceUnavailableError("down")
    coverage.defer(10, 30, 100)
    coverage.fail(20, 30, 60, error)
    assert coverage.holds(0, 50, 0) == [(10, 20, 100, None), (20, 30, 60, error)]
    coverage.defer(20, 30, 90)
    assert coverage.pending == [(10, 20, 100), (20, 30, 90)]
