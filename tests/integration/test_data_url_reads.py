"""The `data` tool's `read` action from a URL, called directly (no Dagster run) against HTTP
servers on 127.0.0.1: what a step says, and whether its `retry` may try again, when the server
fails, stays silent, sends too much, or the step is stopped.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest
from vega_datasets import local_data

from local_servers import LocalHTTPServer, QuietHandler, serving, silent_port
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.data import TOOL

read_module = importlib.import_module("yaml2dag.tools.data.read")  # the package's `read` is the action

BODY = Path(local_data.seattle_weather.filepath).read_bytes()


class _Handler(QuietHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/busy"):
            self._send(503, "try later")
        else:
            self._send(200, BODY, "text/csv")


@pytest.fixture
def server():
    with serving(LocalHTTPServer(_Handler)) as running:
        yield running


def read(ctx: ToolContext | None = None, **params):
    action = next(a for a in TOOL.actions if a.name == "read")
    return action.run(ctx or ToolContext("load"), params)


def refused(ctx: ToolContext | None = None, **params) -> ToolError:
    with pytest.raises(ToolError) as info:
        read(ctx, **params)
    return info.value


def test_a_url_is_read_with_a_step_deadline_shorter_than_the_timeout(server):
    got = read(ToolContext("load", timeout=60), url=f"{server.url}/export", timeout="5m")
    pd.testing.assert_frame_equal(got.output, pd.read_csv(local_data.seattle_weather.filepath))
    assert got.metadata["format"] == "csv"  # from the Content-Type: the name has no suffix


def test_a_server_error_is_retryable_and_keeps_the_status(server):
    error = refused(url=f"{server.url}/busy.csv")
    assert error.message == f"GET {server.url}/busy.csv answered 503 Service Unavailable"
    assert error.retryable is True
    assert error.fields == {"status_code": 503}


def test_a_silent_server_times_out_retryably():
    with silent_port() as port:
        error = refused(url=f"http://127.0.0.1:{port}/a.csv", timeout=0.5)
    assert error.message == f"GET http://127.0.0.1:{port}/a.csv timed out after 0.5s"
    assert error.retryable is True


def test_a_body_over_the_download_limit_is_refused(server, monkeypatch):
    monkeypatch.setattr(read_module, "MAX_DOWNLOAD_BYTES", 1000)
    error = refused(url=f"{server.url}/weather.csv")
    assert error.message == f"GET {server.url}/weather.csv: the body is larger than 1,000 bytes"
    assert error.retryable is False


def test_a_stopped_step_stops_its_download(server):
    ctx = ToolContext("load")
    ctx.cancel("the run was terminated")
    error = refused(ctx, url=f"{server.url}/weather.csv")
    assert error.message == f"GET {server.url}/weather.csv was stopped"
