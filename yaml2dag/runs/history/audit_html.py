"""The audit record of a run as one self-contained HTML page (``yaml2dag audit --format html``).

:func:`audit_html` renders the dict of :func:`~yaml2dag.runs.history.audit.run_audit` — it reads
nothing else, so the page says what the JSON and CSV say: the summary, a timeline (Gantt) of
every step attempt, approval decisions, annotations, failure handlers, cancellations, outputs
and which parameters were masked. The page is one file with its CSS inline, no script and no
external resource (it opens offline). The template is package data
(``audit_report.html.j2``), rendered by a plain Jinja2 environment with autoescape on, so every
text taken from the run (step output, messages, comments) is shown as text, never as markup.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
from importlib import resources
from typing import Any

import jinja2

from yaml2dag.format.durations import format_duration
from yaml2dag.runs.history.common import shown_status

#: The template file, beside this module (package data).
TEMPLATE = "audit_report.html.j2"
#: Run status → CSS class of its badge (the colours of the text views).
STATUS_CLASS = {"completed": "ok", "failed": "bad", "canceled": "warn", "running": "info", "paused": "pause",
                "pending": "dim"}
#: A bar shows its duration inside it from this share of the timeline on (narrower bars: in the tooltip).
LABEL_MIN_SHARE = 0.04
#: Labels of the ``started_by`` keys shown in the summary, in order.
STARTED_BY = (("trigger", "trigger"), ("user", "user"), ("host", "host"), ("pid", "process"),
              ("schedule", "schedule"), ("sensor", "sensor"), ("retry_of", "retry of"),
              ("parent_run_id", "parent run"), ("root_run_id", "root run"), ("trigger_info", "trigger info"))


def _stamp(iso: str | None) -> float | None:
    if not iso:
        return None
    return _dt.datetime.fromisoformat(iso).timestamp()


def _when(iso: str | None) -> str:
    """``2026-11-22T05:42:14.123+00:00`` → ``2026-11-22 05:42:14.123 UTC``; ``-`` for None."""
    if not iso:
        return "-"
    return iso.replace("T", " ").split("+")[0] + " UTC"


def _value(value: Any) -> str:
    """A parameter, output or result as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return _json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _span(audit: dict) -> tuple[float | None, float | None]:
    """(origin, end) of the timeline, epoch seconds: from the run's start (or the first attempt)
    to its end (or the last attempt; for a run still going, when the record was written)."""
    starts, ends = [], []
    for step in audit["steps"]:
        for attempt in step["attempts"]:
            starts.append(_stamp(attempt["started_at"]))
            ends.append(_stamp(attempt["ended_at"]))
    starts = [s for s in starts if s is not None]
    ends = [e for e in ends if e is not None]
    run_start, run_end = _stamp(audit["started_at"]), _stamp(audit["ended_at"])
    origin_candidates = [s for s in (run_start, *starts) if s is not None]
    if not origin_candidates:
        return None, None
    origin = min(origin_candidates)
    running = any(a["ended_at"] is None for s in audit["steps"] for a in s["attempts"])
    end_candidates = [e for e in (run_end, *ends) if e is not None]
    if running or not end_candidates:
        end_candidates.append(_stamp(audit["generated_at"]) or origin)
    return origin, max(max(end_candidates), origin)


def _pct(seconds: float, span: float) -> str:
    return f"{100.0 * seconds / span:.4f}" if span > 0 else "0"


def _timeline(audit: dict) -> dict:
    """Rows of the Gantt chart: one per step, a bar per attempt (positions in % of the span; the
    elements of a ``for_each`` step share its row),
    the gate decisions as marks; the axis ticks, and the annotations as marks on the axis."""
    origin, end = _span(audit)
    if origin is None:
        return {"rows": [], "ticks": [], "notes": [], "span_s": 0, "origin": None}
    span = end - origin
    gates = {gate["step"]: gate for gate in audit["approvals"]}
    rows = []
    for step in audit["steps"]:
        bars = []
        for attempt in step["attempts"]:
            start = _stamp(attempt["started_at"])
            if start is None:
                continue
            stop = _stamp(attempt["ended_at"])
            duration = (stop if stop is not None else end) - start
            bars.append({
                "attempt": attempt["attempt"], "outcome": attempt["outcome"], "offset_s": round(start - origin, 3),
                "duration_s": round(duration, 3), "left": _pct(start - origin, span), "width": _pct(duration, span),
                "step_key": attempt["step_key"],
                "title": f"{attempt['step_key']} attempt {attempt['attempt']}: {attempt['outcome']}, "
                         f"{format_duration(duration)} from {_when(attempt['started_at'])}"
                         + (f" — {attempt['error']}" if attempt.get("error") else ""),
                "label": format_duration(duration) if duration >= span * LABEL_MIN_SHARE else "",
            })
        marks = []
        for decision in gates.get(step["step"], {}).get("decisions", []):
            at = _stamp(decision.get("at"))
            if at is not None:
                marks.append({"left": _pct(min(max(at - origin, 0.0), span), span), "decision": decision.get("decision"),
                              "title": f"{decision.get('decision')} by {decision.get('by')} at {_when(decision.get('at'))}"
                                       + (f": {decision['comment']}" if decision.get("comment") else "")})
        rows.append({"step": step["step"], "title": step["title"], "status": step["status"], "bars": bars,
                     "marks": marks, "note": (f"skipped: {step['skip_reason']}" if step["skip_reason"] else "skipped")
                     if step["status"] == "skipped" else ("not run" if not bars else "")})
    ticks = [{"left": _pct(span * i / 4, span), "label": "+" + format_duration(span * i / 4) if i else "0"}
             for i in range(5)]
    notes = [{"left": _pct(min(max(at - origin, 0.0), span), span), "title": f"{note.get('by')} at {_when(note.get('at'))}: "
              f"{note.get('text')}"} for note in audit.get("annotations") or [] if (at := _stamp(note.get("at"))) is not None]
    return {"rows": rows, "ticks": ticks, "notes": notes, "span_s": round(span, 3),
            "origin": _dt.datetime.fromtimestamp(origin, _dt.timezone.utc).isoformat(timespec="milliseconds")}


def _annotations(audit: dict) -> list[dict]:
    """The run's annotations (``yaml2dag annotate``: ``text``, ``by``, ``at`` each), times shown."""
    return [{"at": _when(note.get("at")), "by": note.get("by") or "-", "text": note.get("text") or ""}
            for note in audit.get("annotations") or []]


def _steps(audit: dict) -> list[dict]:
    out = []
    for step in audit["steps"]:
        result = step["result"] or {}
        out.append({
            "step": step["step"], "title": step["title"], "kind": step["kind"], "status": step["status"],
            "attempts": len(step["attempts"]), "retries": step["retries"], "started": _when(step["started_at"]),
            "duration": format_duration(step["duration_s"]), "note": step["error"] or step["skip_reason"] or "",
            "output": _value(result["output"]) if result.get("output") not in (None, "") else "",
            "details": _value({k: v for k, v in result.items() if k != "output"}) if len(result) > 1 else "",
        })
    return out


def _context(audit: dict) -> dict:
    by = audit["started_by"]
    return {
        "a": audit,
        "status_text": shown_status(audit["status"], audit.get("rollback")),
        "status_class": STATUS_CLASS.get(audit["status"], "dim"),
        "started_by": [(label, by.get(key)) for key, label in STARTED_BY if by.get(key) not in (None, "")],
        "times": [("created", _when(audit["created_at"])), ("started", _when(audit["started_at"])),
                  ("ended", _when(audit["ended_at"])), ("duration", format_duration(audit["duration_s"]))],
        "parameters": [(name, _value(value), name in audit["masked_parameters"])
                       for name, value in audit["parameters"].items()],
        "timeline": _timeline(audit),
        "steps": _steps(audit),
        "gates": [{**gate, "decisions": [{**d, "at": _when(d.get("at"))} for d in gate["decisions"]],
                   "waiting_since": _when(gate.get("waiting_since")), "deadline": _when(gate.get("deadline"))}
                  for gate in audit["approvals"]],
        "annotations": _annotations(audit),
        "annotations_known": "annotations" in audit,
        "outputs": [(name, _value(value)) for name, value in audit["outputs"].items()],
        "cancellations": [{**c, "at": _when(c.get("at"))} for c in audit["cancellations"]],
        "generated": _when(audit["generated_at"]),
    }


def _template() -> jinja2.Template:
    text = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True)
    return environment.from_string(text)


def audit_html(audit: dict) -> str:
    """An audit (:func:`~yaml2dag.runs.history.audit.run_audit`) as one self-contained HTML page.

    Args:
        audit: the record, secrets already masked (as ``run_audit`` returns it); an optional
            ``annotations`` list (``{text, by, at}`` dicts, ``yaml2dag annotate``) is shown when present.

    Returns:
        The page (UTF-8 text): inline CSS, no script, no external resource. Each timeline bar is
        a ``div.bar`` with ``data-step``, ``data-step-key`` (Dagster's), ``data-attempt``,
        ``data-outcome``, ``data-offset-s`` and ``data-duration-s`` (seconds), placed by ``left``/``width`` in percent of the
        timeline (``div.track`` with ``data-span-s``).

    Raises:
        KeyError: ``audit`` misses a key of the record.
    """
    return _template().render(**_context(audit))


__all__ = ["audit_html"]
