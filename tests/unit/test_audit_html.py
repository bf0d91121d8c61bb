"""Issue 15, point 9: the HTML audit report (:func:`yaml2dag.runs.history.audit_html.audit_html`)
rendered from an audit record — text from the run is escaped, the timeline's bars are placed
by the attempts' times, the page names no external resource. The browser test on real runs is
tests/integration/test_audit_report.py."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest

from yaml2dag.runs.history.audit_html import audit_html

pytestmark = pytest.mark.unit

INJECTED = '<script>window.__owned = 1</script><img src="http://127.0.0.1:9/x.png" onerror="alert(1)">'


def _attempt(n, start, end, outcome, error=None):
    return {"attempt": n, "step_key": "s", "started_at": start, "ended_at": end, "duration_s": None,
            "outcome": outcome, "error": error}


def _step(name, status, attempts, **extra):
    return {"step": name, "title": name, "kind": "step", "status": status, "attempts": attempts,
            "retries": sum(a["outcome"] == "retry" for a in attempts), "started_at": None, "ended_at": None,
            "duration_s": None, "result": None, "error": None, "skip_reason": None, **extra}


RECORD = {
    "run_id": "0da0f723-8b14-42c6-9d02-672c7dcd2cb6", "workflow": "Report <b>Flow</b>", "job": "report_flow",
    "version": "1.0.0", "workflow_hash": "c845599ff2af23b26a25", "status": "failed", "rollback": "rolled back",
    "dagster_status": "FAILURE",
    "started_by": {"trigger": "cli", "user": "ann<i>", "host": "vm", "pid": 7, "schedule": None, "sensor": None,
                   "parent_run_id": None, "root_run_id": None, "retry_of": None, "trigger_info": None},
    "tags": {}, "parameters": {"who": "you", "db_password": "***"}, "masked_parameters": ["db_password"],
    "created_at": "2026-12-07T10:00:00+00:00", "started_at": "2026-12-07T10:00:00+00:00",
    "ended_at": "2026-12-07T10:01:40+00:00", "duration_s": 100.0,
    "steps": [
        _step("fetch", "succeeded", [_attempt(1, "2026-12-07T10:00:00.000+00:00", "2026-12-07T10:00:10.000+00:00", "succeeded")],
              result={"output": INJECTED, "exit_code": 0}),
        _step("flaky", "succeeded", [_attempt(1, "2026-12-07T10:00:10.000+00:00", "2026-12-07T10:00:20.000+00:00", "retry", "exit 3"),
                                     _attempt(2, "2026-12-07T10:00:25.000+00:00", "2026-12-07T10:00:50.000+00:00", "succeeded")]),
        _step("never", "skipped", [], skip_reason="its condition is false: {{ who == 'x' }}"),
        _step("gate", "failed", [_attempt(1, "2026-12-07T10:00:50.000+00:00", "2026-12-07T10:01:40.000+00:00", "failed", "no")]),
    ],
    "approvals": [{"step": "gate", "message": "ship <b>it</b>?", "required_approvals": 1, "approvers": [],
                   "waiting_since": "2026-12-07T10:00:50+00:00", "deadline": None, "approved_by": [],
                   "decisions": [{"decision": "reject", "by": "boss", "comment": INJECTED, "at": "2026-12-07T10:01:30+00:00"}],
                   "resolved": {"decision": "rejected", "approved_by": [], "comment": None}}],
    "failure_handlers": [{"kind": "compensate", "step": "fetch", "status": "succeeded", "error": None, "output": "undone"}],
    "cancellations": [], "outputs": {"page": INJECTED},
    "error_message": "gate rejected", "failed_step": "gate", "event_count": 40, "generated_at": "2026-12-07T10:02:00+00:00",
}


class _Collector(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def test_text_from_the_run_is_escaped_never_markup():
    page = audit_html(copy.deepcopy(RECORD) | {"annotations": [{"text": INJECTED, "by": "ops<u>", "at": "2026-12-07T10:00:30+00:00"}]})
    parsed = _parse(page)
    names = [tag for tag, _ in parsed.tags]
    assert "script" not in names and "img" not in names and "b" not in names and "i" not in names and "u" not in names
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    text = "".join(parsed.text)
    # the output, the gate's comment and the annotation: each shown as text
    assert text.count("<script>window.__owned = 1</script>") == 4, text
    assert "Report <b>Flow</b>" in text and "ship <b>it</b>?" in text and "ops<u>" in text


def test_the_page_names_no_external_resource():
    page = audit_html(copy.deepcopy(RECORD))
    parsed = _parse(page)
    linked = [(tag, attrs) for tag, attrs in parsed.tags
              if {"src", "href", "action", "srcset", "data"} & set(attrs) or tag in ("link", "script", "iframe", "object")]
    assert linked == []
    style = page[page.index("<style>"):page.index("</style>")]
    assert "url(" not in style and "@import" not in style
    assert "default-src 'none'" in page


def test_bars_are_placed_by_the_attempts_times():
    parsed = _parse(audit_html(copy.deepcopy(RECORD)))
    bars = [attrs for tag, attrs in parsed.tags if tag == "div" and "bar" in attrs.get("class", "").split()]
    assert [(b["data-step"], b["data-attempt"], b["data-outcome"]) for b in bars] == [
        ("fetch", "1", "succeeded"), ("flaky", "1", "retry"), ("flaky", "2", "succeeded"), ("gate", "1", "failed")]
    placed = [tuple(float(v) for v in re.findall(r"[\d.]+", b["style"])) for b in bars]
    # the timeline is the run's 100 s: percent = seconds
    assert placed == [(0.0, 10.0), (10.0, 10.0), (25.0, 25.0), (50.0, 50.0)]
    assert [float(b["data-duration-s"]) for b in bars] == [10.0, 10.0, 25.0, 50.0]
    marks = [attrs for tag, attrs in parsed.tags if tag == "div" and "mark" in attrs.get("class", "").split()]
    assert [(m["style"], m["class"]) for m in marks] == [("left: 90.0000%", "mark d-reject")]


def test_summary_skips_gates_masking_and_rollback_are_shown():
    parsed = _parse(audit_html(copy.deepcopy(RECORD)))
    text = " ".join("".join(parsed.text).split())
    assert "failed (rolled back)" in text
    assert "skipped: its condition is false: {{ who == 'x' }}" in text
    assert "db_password***" in text and "Shown as ***: db_password." in text
    assert "reject" in text and "boss" in text and "rejected" in text
    assert "compensate" in text and "undone" in text
    assert "this audit record carries no annotations" in text


@pytest.mark.parametrize("annotations, expected", [([], "no annotations"),
                                                   ([{"text": "db restarted", "by": "ops", "at": "2026-12-07T10:00:30+00:00"}],
                                                    "2026-12-07 10:00:30 UTC ops db restarted")])
def test_annotations_section(annotations, expected):
    page = audit_html(copy.deepcopy(RECORD) | {"annotations": annotations})
    section = page[page.index('<div id="annotations">'):page.index("</div>", page.index('<div id="annotations">'))]
    assert expected in " ".join(re.sub(r"<[^>]+>", " ", section).split())
    # each annotation is also a mark on the timeline's axis, at its time (30 s of the run's 100 s)
    marks = [attrs for tag, attrs in _parse(page).tags if attrs.get("class") == "note-mark"]
    assert [(m["style"], m["title"]) for m in marks] == [
        ("left: 30.0000%", f"{a['by']} at 2026-12-07 10:00:30 UTC: {a['text']}") for a in annotations]


def test_a_run_still_going_draws_its_open_attempt_to_when_the_record_was_written():
    record = copy.deepcopy(RECORD) | {"ended_at": None, "duration_s": None, "status": "running", "rollback": None}
    record["steps"][3]["attempts"][0].update(ended_at=None, outcome="running")
    record["generated_at"] = "2026-12-07T10:03:20+00:00"        # 200 s after the start
    bars = [attrs for tag, attrs in _parse(audit_html(record)).tags if "bar" in attrs.get("class", "").split()]
    assert bars[-1]["data-outcome"] == "running" and float(bars[-1]["data-duration-s"]) == 150.0
    assert re.findall(r"[\d.]+", bars[-1]["style"]) == ["25.0000", "75.0000"]
