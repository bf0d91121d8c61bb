"""Console helpers shared by the CLI commands: colours that degrade, JSON printing."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import click
from rich.console import Console


def console(file: TextIO | None = None, stderr: bool = False) -> Console:
    """A rich console; plain text when the stream is not a terminal or ``NO_COLOR`` is set."""
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=True,
                   no_color=bool(os.environ.get("NO_COLOR")))


def print_json(data: Any, file: TextIO | None = None) -> None:
    """Print exactly one JSON document and a newline."""
    stream = file or sys.stdout
    stream.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    stream.flush()


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output for people (text) or scripts (json).",
)
