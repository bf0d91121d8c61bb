"""``yaml2dag run --mode supervised|hybrid``: the questions on the terminal (issue 15,
"supervised mode"; the modes: :mod:`yaml2dag.format.run_modes`).

The run's questions reach this process through :class:`yaml2dag.runs.supervision.QuestionWatch`,
which calls :func:`terminal_asker`'s function in its own thread; it prints the question and reads
one answer line from stdin: ``c``/``continue``, ``s``/``skip``, ``a``/``abort`` (anything else
asks again; end of input answers abort). A question decided meanwhile elsewhere (``yaml2dag
approve``/``reject``) or a run that ended closes the prompt.

Without a terminal on stdin, ``--mode supervised`` or ``hybrid`` is refused before anything runs
(:func:`terminal_problem`): a script or CI job that asks for questions has nobody to answer
them, and would wait until the run's timeout; a run meant to wait for people is started from the
UI, a schedule, a sensor or ``dagster job execute``, where ``confirm: true`` steps are approval
gates.
"""

from __future__ import annotations

import os
import select
import sys
from typing import Any, Callable

from yaml2dag.format.run_modes import DEFAULT_MODE, MODES

#: What a person may type, and the answer it stands for.
REPLIES = {"c": "continue", "continue": "continue", "s": "skip", "skip": "skip", "a": "abort", "abort": "abort"}
#: Seconds between two looks at stdin (and at whether the question is still open).
READ_SECONDS = 0.25

MODE_HELP = ("autopilot (default): ask nothing; supervised: ask before every step (continue, skip, abort); "
             "hybrid: ask only before steps marked `confirm: true`. Questions are asked on the terminal.")
MODE_CHOICES = MODES
MODE_DEFAULT = DEFAULT_MODE


def terminal_problem(mode: str, stdin: Any = None) -> str | None:
    """Why ``mode`` cannot run from this process (stdin is not a terminal), else None."""
    if mode == DEFAULT_MODE:
        return None
    stream = stdin if stdin is not None else sys.stdin
    try:
        tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    if tty:
        return None
    return (f"--mode {mode} asks on the terminal, and stdin is not a terminal: run it from a terminal, use "
            "--mode autopilot, or start the run from the UI, a schedule, a sensor or `dagster job execute`, "
            "where `confirm: true` steps wait as approval gates (yaml2dag approve/reject)")


def _stream(fmt: str) -> Any:
    """Where questions are printed: a copy of stdout (text), of stderr (json: stdout carries the
    one JSON document), taken before the run redirects either."""
    fd = 1 if fmt == "text" else 2
    try:
        return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")
    except OSError:
        return sys.stderr


def terminal_asker(fmt: str, stdin_fd: int = 0) -> Callable[[Any, Callable[[], bool]], str | None]:
    """The ``ask`` of :func:`yaml2dag.runs.runner.run_workflow` for this terminal.

    Args:
        fmt: the command's ``--format`` (``text`` prints questions on stdout, ``json`` on stderr).
        stdin_fd: where answers are read.

    Returns:
        ``ask(question, is_open) -> "continue" | "skip" | "abort" | None``.
    """
    out = _stream(fmt)

    def say(text: str) -> None:
        out.write(text)
        out.flush()

    def ask(question: Any, is_open: Callable[[], bool]) -> str | None:
        say(f"? Run step {question.title} [{question.step_key}]? continue, skip or abort [c/s/a]: ")
        pending = b""
        while True:
            if not is_open():
                say("\n  (decided elsewhere, or the run ended)\n")
                return None
            ready, _w, _x = select.select([stdin_fd], [], [], READ_SECONDS)
            if not ready:
                continue
            chunk = os.read(stdin_fd, 1024)
            if not chunk:
                say("abort (end of input)\n")
                return "abort"
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                reply = REPLIES.get(line.decode("utf-8", "replace").strip().lower())
                if reply is not None:
                    return reply
                say("  please answer c (continue), s (skip) or a (abort): ")

    return ask


__all__ = ["MODE_CHOICES", "MODE_DEFAULT", "MODE_HELP", "READ_SECONDS", "REPLIES", "terminal_asker",
           "terminal_problem"]
