"""A :class:`yaml2dag.tools.base.ToolLog` for tests that call a tool's action directly: it keeps
every line the action logs, with its level, to assert on."""

from __future__ import annotations


class RecordingLog:
    """Keeps every logged line as ``(level, message)`` in :attr:`lines`."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def error(self, message: str) -> None:
        self.lines.append(("error", message))

    def debug(self, message: str) -> None:
        self.lines.append(("debug", message))

    def warnings(self) -> list[str]:
        """The warning lines, in order."""
        return [message for level, message in self.lines if level == "warning"]

    def text(self) -> str:
        """Every line, one per line of text."""
        return "\n".join(message for _level, message in self.lines)
