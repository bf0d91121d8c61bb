"""A local fake of an OpenAI-compatible chat completions server, for `create --describe` with
YAML2DAG_LLM_URL (tests only). Answers are served in order; requests are recorded."""

from __future__ import annotations

import contextlib
import json
from typing import Iterator

from local_servers import LocalHTTPServer, QuietHandler, serving


class FakeModel:
    """What the server answers (``answers``, popped in order) and what it was asked."""

    def __init__(self, answers: list[str]):
        self.answers = list(answers)
        self.requests: list[dict] = []
        self.url = ""


@contextlib.contextmanager
def fake_model(answers: list[str]) -> Iterator[FakeModel]:
    """Serve ``answers`` on 127.0.0.1 (a free port) while inside; ``.url`` ends in ``/v1``."""
    model = FakeModel(answers)

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            model.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            content = model.answers.pop(0) if model.answers else ""
            self._json(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})

    with serving(LocalHTTPServer(Handler)) as server:
        model.url = f"{server.url}/v1"
        yield model


VALID_YAML = """name: whatever
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo hello"}
"""
