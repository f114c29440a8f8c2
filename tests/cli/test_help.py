"""Help pages, usage errors, the demo and what every command shares."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pricepool.cli import app

from .helpers import (
    HELP_PAGES,
    NOW,
    OSLO_HOME,
    TOKEN,
    Served,
    run,
)


def test_demo_exits_0_and_shows_what_the_cache_saved() -> None:
    result = run("demo", token=None)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("Fjellstua", "Sjöboden", "Altbau", "today", "tomorrow", "Cheapest 3 hours"):
        assert expected in out
    assert "for 0 API requests" in out  # after the restart
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", HELP_PAGES)
def test_every_help_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert "pricepool" in result.stdout


def test_options_go_before_or_after_the_command(served: Served, store: str) -> None:
    line = ["--endpoint", served.endpoint, "--token", TOKEN, "--store", store]
    result = CliRunner().invoke(app, [*line, "homes", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert OSLO_HOME.id in result.stdout


def test_bad_times_are_usage_errors(served: Served, store: str) -> None:
    result = run(
        "prices", "--home", "Altbau", "--from", "someday", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 2
    assert "--from" in result.stderr
    result = run(
        "prices",
        "--home",
        "Altbau",
        "--from",
        "tomorrow",
        "--to",
        "today",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 2
    # In the user's words: --to today is the end of today, which --from tomorrow starts at.
    assert result.stderr == (
        "error: --to today ends as --from tomorrow starts: the range is empty; "
        "see pricepool prices --help\n"
    )
    line = ("prices", "--home", "Altbau", "--from", "now", "--to", "2026-11-25")
    both = run(*line, endpoint=served.endpoint, store=store)
    assert both.exit_code == 2
    assert both.stderr == (
        "error: --to 2026-11-25 ends before --from now starts: the range is empty; "
        "see pricepool prices --help\n"
    )


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise TypeError("unsupported operand")

    monkeypatch.setattr("pricepool._cli.demo.run_demo", broken)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error (TypeError: unsupported operand); run with -v for details\n"
    )
    verbose = CliRunner().invoke(app, ["demo", "-v"])
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.endswith(
        "error: internal error (TypeError: unsupported operand); run with -v for details\n"
    )


def test_the_missing_token_error_can_be_rebuilt_with_a_note() -> None:
    from pricepool._cli.session import MissingTokenError

    err = MissingTokenError()
    assert "--token" in str(err)
    assert str(type(err)("with a note")) == "with a note"


def test_usage_errors_need_no_private_typer_module(tmp_path: Path) -> None:
    """typer's bundled click is private: without it a usage error is still one line."""
    script = (
        "import importlib, sys\n"
        "import typer\n"
        "sys.modules['typer._click.exceptions'] = None\n"
        "sys.modules['click'] = None\n"
        "sys.modules['click.exceptions'] = None\n"
        "import pricepool._cli.usage as usage\n"
        "importlib.reload(usage)\n"
        "import pricepool.cli as cli\n"
        "importlib.reload(cli)\n"
        "sys.argv = ['pricepool', 'prices', '--bogus']\n"
        "cli.main()\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert child.returncode == 2, child.stderr
    assert child.stderr == "error: no such option --bogus; see pricepool prices --help\n"


def test_an_unknown_home_is_a_usage_error(served: Served, store: str) -> None:
    result = run("prices", "--home", "Nowhere", endpoint=served.endpoint, store=store)
    assert result.exit_code == 2
    assert "no single home matches 'Nowhere'" in result.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (["prices", "--bogus"], "no such option --bogus; see pricepool prices --help"),
        (
            ["prices", "--hourley"],
            "no such option --hourley (did you mean --hourly?); see pricepool prices --help",
        ),
        (
            ["prices", "-f", "xml"],
            "--format: 'xml' is not one of 'table', 'json', 'csv'; see pricepool prices --help",
        ),
        (
            ["cheapest", "--slots", "0"],
            "--slots: must be at least 1; see pricepool cheapest --help",
        ),
        (
            ["cheapest", "--slots", "x"],
            "--slots: must be a whole number; see pricepool cheapest --help",
        ),
        (["prices", "--from"], "--from needs a value; see pricepool prices --help"),
        (
            ["prices", "--retry-budget", "inf"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool prices --help",
        ),
        (
            ["homes", "--retry-budget", "1e308"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool homes --help",
        ),
        (
            ["prices", "--retry-budget", "nan"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool prices --help",
        ),
        (
            ["--retry-budget", "-1", "homes"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool --help",
        ),
        (["cache", "import-ha"], "missing FILE; see pricepool cache import-ha --help"),
        # Coerced without pydantic: the same words.
        (
            ["cheapest", "--slots", "abc"],
            "--slots: must be a whole number; see pricepool cheapest --help",
        ),
        (
            ["simulator", "--port", "x"],
            "--port: must be a whole number; see pricepool simulator --help",
        ),
        (
            ["--retry-budget", "abc", "homes"],
            "--retry-budget: must be a number; see pricepool --help",
        ),
        (
            ["prices", "-f", "JSON"],
            "--format: 'JSON' is not one of 'table', 'json', 'csv'; see pricepool prices --help",
        ),
        (
            ["pricez"],
            "no such command 'pricez'; did you mean 'prices'? See pricepool --help",
        ),
        (["demo", "--token", "x"], "no such option --token; see pricepool demo --help"),
        (
            ["prices", "--endpoint", "notaurl"],
            "--endpoint: 'notaurl' is not an http(s) URL, e.g. "
            "http://127.0.0.1:8080/v1-beta/gql; see pricepool prices --help",
        ),
    ],
)
def test_usage_errors_are_one_line(line: list[str], message: str) -> None:
    result = CliRunner().invoke(app, line)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"


def test_a_bad_endpoint_is_refused_before_any_request(served: Served, store: str) -> None:
    folder = Path(store).parent / "config" / "pricepool"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('endpoint = "localhost:8080"\n')
    before = served.sim.requests
    result = run("prices", "--home", "Altbau", store=store)
    assert result.exit_code == 2
    assert "endpoint 'localhost:8080' is not an http(s) URL" in result.stderr
    assert served.sim.requests == before


@pytest.mark.parametrize("command", HELP_PAGES)
def test_help_reads_at_80_columns(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "<bool>" not in page
    assert "…" not in page.replace("01J…", "")  # nothing cut off (but the example's file)
    usage = next(row for row in page.splitlines() if "Usage:" in row)
    assert "{" not in usage
    assert all(len(row) <= 80 for row in page.splitlines())
    # Each example is a line of its own.
    examples = page[page.rindex("Example") :].splitlines()[1:]
    assert all(row.strip().startswith("pricepool ") for row in examples if row.strip())


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        (["demo"], [], ["--token", "--endpoint", "--store", "--retry-budget", "--quiet"]),
        (["simulator"], ["--token", "--port"], ["--store", "--endpoint", "--retry-budget"]),
        (["homes"], ["--token", "--endpoint", "--store"], ["--quiet"]),
        (["prices"], ["--token", "--endpoint", "--store", "--quiet", "--retry-budget"], []),
        (["cache", "stats"], ["--store"], ["--token", "--endpoint", "--retry-budget"]),
        (["cache", "import-ha"], ["FILE", "--time-zone"], ["--token", "--endpoint", "{file}"]),
    ],
)
def test_help_lists_only_the_options_a_command_uses(
    command: list[str], present: list[str], absent: list[str]
) -> None:
    page = CliRunner().invoke(app, [*command, "--help"]).stdout
    # The usage line and the panels, not the description or the examples.
    panels = page[page.index("╭─") : page.rindex("╯")]
    page = page[page.index("Usage:") :].splitlines()[0] + panels
    for name in present:
        assert name in page, name
    for name in absent:
        assert name not in page, name


def test_demo_chart_has_a_legend_without_colour() -> None:
    result = run("demo", token=None)
    assert result.exit_code == 0, result.output
    # The chart's title is its legend.
    assert "every interval of today and tomorrow · █ the cheapest 3 hours" in result.stdout


@pytest.mark.parametrize(
    "line",
    [["--help"], ["--version"], ["cache", "stats", "--store", "STORE"], ["cache", "--help"]],
)
def test_quick_commands_import_only_what_they_use(line: list[str], tmp_path: Path) -> None:
    # The heavy imports (issue 14: startup of 0.6 s) stay out of commands that need none.
    store = tmp_path / "store.sqlite"
    sqlite3.connect(store).close()
    args = [str(store) if arg == "STORE" else arg for arg in line]
    probe = (
        "import sys\n"
        "from pricepool.cli import main\n"
        f"sys.argv = ['pricepool', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('aiohttp', 'pydantic', 'plotext', 'graphql', 'rich.markdown')\n"
        "sys.stderr.write(repr(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    loaded = done.stderr.strip().splitlines()[-1]
    allowed = "['rich.markdown']" if "--help" in line else "[]"
    assert loaded in ("[]", allowed), done.stderr


def test_an_unknown_config_key_is_named(served: Served, store: str) -> None:
    folder = Path(store).parent / "config" / "pricepool"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('tokne = "x"\n')
    result = run("homes", endpoint=served.endpoint, store=store)
    assert "tokne" in result.stderr
    assert "config.toml" in result.stderr
