"""Validation of what an approval gate's ``notify`` parameter needs beyond its JSON Schema
(issue 15, point 2): a ``remind_before`` needs a timeout (the gate's ``timeout`` parameter or the
step's ``timeout``) longer than itself.

The schema of ``notify`` (channels, their keys, durations) is the ``approval`` tool's parameter
schema, checked with every tool's (:mod:`.validation_tools`). A mixin of
:class:`yaml2dag.format.validation_checker.DocumentChecker`; nothing here imports Dagster.
"""

from __future__ import annotations

from typing import Any

from yaml2dag.format.durations import parse_duration
from yaml2dag.format.expressions import is_template
from yaml2dag.format.model import Step, Workflow, iter_entries


def _seconds(value: Any) -> float | None:
    """Seconds of a literal duration; None for unset, templates and values the schema refuses."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and is_template(value)):
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


class GateChecks:
    # -- approval gates: reminders (yaml2dag.tools.gate_notifications)
    def check_gate_reminders(self, wf: Workflow) -> None:
        """Rule ``parameters``: each ``remind_before`` of an approval step's ``notify`` channels
        needs a timeout (``parameters.timeout`` or the step's ``timeout``), and a literal one
        shorter than the timeout (the reminder would go out with the first message)."""
        for entry in iter_entries(wf.steps):
            if not isinstance(entry, Step) or entry.tool != "approval":
                continue
            params = entry.parameters
            channels = params.get("notify")
            channels = [channels] if isinstance(channels, dict) else channels if isinstance(channels, (list, tuple)) else []
            gate_timeout = params.get("timeout")
            limits = [s for s in (_seconds(gate_timeout), entry.timeout) if s is not None]
            has_timeout = gate_timeout not in (None, "") or entry.timeout is not None
            for index, channel in enumerate(channels):
                if not isinstance(channel, dict) or channel.get("remind_before") in (None, ""):
                    continue
                where = entry.path + ("parameters", "notify") + ((index,) if isinstance(params.get("notify"), (list, tuple)) else ())
                where += ("remind_before",)
                if not has_timeout:
                    self.add(where, "`remind_before` needs a timeout: set the gate's `timeout` parameter (the "
                             "reminder goes out that long before it)", "parameters")
                    continue
                before = _seconds(channel["remind_before"])
                if before is not None and limits and before >= min(limits):
                    self.add(where, f"`remind_before` ({channel['remind_before']}) is not shorter than the gate's "
                             f"timeout ({min(limits):g}s): the reminder would go out with the first message",
                             "parameters")
