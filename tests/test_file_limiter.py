"""FileLimiter: one request budget and one ban for every process using one file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pricepool.errors import RateLimitedError
from pricepool.sources.tibber import FileLimiter, RequestLimiter

from .test_tibber_transport import Time


def two(path: Path, wall: Time, max_requests: int = 3) -> tuple[FileLimiter, FileLimiter]:
    """Two limiters on one file, as two processes hold them; ``wall`` is their shared clock."""
    return (
        FileLimiter(path, max_requests, 300, now=wall.monotonic, sleep=wall.sleep),
        FileLimiter(path, max_requests, 300, now=wall.monotonic, sleep=wall.sleep),
    )


async def test_processes_on_one_file_share_the_window(tmp_path: Path) -> None:
    wall = Time()
    a, b = two(tmp_path / "limits" / "api.json", wall)
    assert isinstance(a, RequestLimiter)
    for limiter in (a, a, b):
        async with limiter.slot(0):
            pass
    assert a.left() == b.left() == 0
    with pytest.raises(RateLimitedError) as caught:
        async with b.slot(10):
            pass
    assert caught.value.own
    assert not caught.value.banned
    assert caught.value.retry_after == pytest.approx(300)
    # Patience enough: it waits for the oldest request to leave the window, then goes.
    async with b.slot(301):
        pass
    assert wall.sleeps == [pytest.approx(300)]
    assert a.left() == 2  # all three of the first second left the window; this one is in


async def test_a_ban_one_process_heard_stops_the_other(tmp_path: Path) -> None:
    wall = Time()
    a, b = two(tmp_path / "api.json", wall)
    await a.ban(600, "HTTP 429 from the API")
    with pytest.raises(RateLimitedError) as caught:
        async with b.slot(30):
            pass
    assert caught.value.banned
    assert caught.value.own
    assert caught.value.retry_after == pytest.approx(600)
    assert "HTTP 429" in str(caught.value)
    await b.ban(60, "shorter")  # never shortens
    wall.now += 599
    with pytest.raises(RateLimitedError):
        async with a.slot(0):
            pass
    wall.now += 1
    async with a.slot(0):
        pass


async def test_the_file_is_owner_only_and_a_damaged_one_counts_as_empty(tmp_path: Path) -> None:
    wall = Time()
    path = tmp_path / "limits" / "api.json"
    a, _ = two(path, wall, max_requests=1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.write_text('{"sent": [1.0, ')  # cut short by a crash
    async with a.slot(0):
        pass
    assert a.left() == 0


def test_a_folder_that_cannot_be_written_is_an_os_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError):  # a file stands where a folder must be
        FileLimiter(blocker / "limits" / "api.json")


async def test_a_budget_file_removed_meanwhile_is_made_again(tmp_path: Path) -> None:
    """Found in review: a cleared folder made every request fail with FileNotFoundError."""
    wall = Time()
    path = tmp_path / "limits" / "api.json"
    limiter, _ = two(path, wall)
    path.unlink()
    async with limiter.slot(0):
        pass
    assert path.exists()
    path.unlink()
    path.parent.rmdir()  # the whole folder went: this process counts alone
    async with limiter.slot(0):
        pass
    assert limiter.left() == 2  # counted in memory from here: one of three
