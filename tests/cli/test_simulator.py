"""``pricepool simulator``."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys

from typer.testing import CliRunner

from pricepool.cli import app

from .helpers import (
    OSLO_HOME,
)


def test_simulator_command_serves_on_the_given_port(store: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-c", "from pricepool.cli import main; main()"]
    child = subprocess.Popen(
        [*command, "simulator", "--port", str(port), "--token", "sim-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 20)
        assert ready, "the simulator did not start"
        line = child.stdout.readline()
        endpoint = f"http://127.0.0.1:{port}/v1-beta/gql"
        assert endpoint in line
        result = CliRunner().invoke(
            app, ["homes", "--endpoint", endpoint, "--token", "sim-token", "--store", store]
        )
        assert result.exit_code == 0, result.output
        assert OSLO_HOME.id in result.stdout
    finally:
        child.terminate()
        child.wait(10)
