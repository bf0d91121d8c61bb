"""`yaml2dag optimize` (issue 12 §2) without Dagster: the rules on given observations, the
critical path, and the round-trip edits (comments kept, JSON kept JSON)."""

from __future__ import annotations

import json
import textwrap

import yaml

from yaml2dag.format.validation import validate_text
from yaml2dag.optimize import apply_advice
from yaml2dag.optimize.advice import retry_advice, timeout_advice, unused_advice
from yaml2dag.optimize.edits import Change, fragment
from yaml2dag.library.roundtrip import RoundTripDocument
from yaml2dag.optimize.observations import Observations, StepRecord
from yaml2dag.optimize.parallel import critical_path, parallel_advice

TEXT = textwrap.dedent("""\
    # top comment
    name: Sample
    steps:
      - id: fetch  # flaky
        tool: shell
        parameters: {command: "curl x"}
      - id: one
        tool: shell
        parameters: {command: "sleep 5"}
      # before two
      - id: two
        tool: shell
        parameters: {command: "sleep 3"}
      - id: last
        tool: shell
        parameters: {command: "echo {{ one.output }} {{ two.output }}"}
    """)


def observations(spec: dict[str, list[tuple[str, float | None]]]) -> Observations:
    """step → [(status, duration)] per run, runs r0, r1, ... one after another in time."""
    obs = Observations("sample")
    runs = max(len(v) for v in spec.values())
    obs.run_ids = [f"r{i}" for i in range(runs)]
    for i in range(runs):
        clock = i * 1000.0
        for step_id, outcomes in spec.items():
            if i >= len(outcomes):
                continue
            status, duration = outcomes[i]
            start = None if status == "skipped" else clock
            end = None if start is None else clock + (duration or 0)
            obs.steps.setdefault(step_id, []).append(StepRecord(f"r{i}", status, 0, start, end, duration))
            clock = end if end is not None else clock
    return obs


def workflow():
    report = validate_text(TEXT, "sample.yaml")
    assert report.valid, report.problems
    return report.workflow


def test_retry_for_a_step_failing_in_one_run_of_four_with_attempts_from_the_rate():
    obs = observations({"fetch": [("failed", 0.5), ("succeeded", 1), ("succeeded", 1), ("succeeded", 1)]})
    advice, = retry_advice(workflow(), obs)
    assert advice.steps == ["fetch"]
    assert advice.evidence["failure_rate"] == 0.25 and advice.evidence["recovered_runs"] == ["r1", "r2", "r3"]
    # 0.25 ** 4 < 1 %: four attempts; the failing attempt took 0.5 s: delay 1 s
    assert advice.change.values == {"retry": {"max_attempts": 4, "backoff": "exponential", "delay": "1s"}}


def test_no_retry_for_a_step_that_never_succeeded_or_never_failed():
    assert retry_advice(workflow(), observations({"fetch": [("failed", 1)] * 3})) == []
    assert retry_advice(workflow(), observations({"fetch": [("succeeded", 1)] * 3})) == []


def test_timeout_only_when_the_slowest_run_is_far_above_the_median():
    slow = observations({"one": [("succeeded", 2), ("succeeded", 2.2), ("succeeded", 30), ("succeeded", 2.1)]})
    advice, = timeout_advice(workflow(), slow)
    assert advice.change.values == {"timeout": "13s"}  # max(3 × 2.15, 2.15 + 10) rounded up
    assert advice.evidence["slowest_run"] == "r2" and advice.saving_s == 17.0
    steady = observations({"one": [("succeeded", 2), ("succeeded", 5), ("succeeded", 11)]})
    assert timeout_advice(workflow(), steady) == []  # 11 s is not 10 s above the median


def test_unused_for_a_step_skipped_in_every_run():
    advice, = unused_advice(workflow(), observations({"two": [("skipped", None)] * 3}))
    assert advice.steps == ["two"] and advice.change.kind == "none" and advice.saving_s is None


def test_parallel_saving_is_the_critical_path_difference():
    obs = observations({"fetch": [("succeeded", 1)] * 3, "one": [("succeeded", 5)] * 3,
                        "two": [("succeeded", 3)] * 3, "last": [("succeeded", 1)] * 3})
    wf = workflow()
    advice = parallel_advice(wf, obs, TEXT)
    # fetch, one and two read nobody: one group of three; the path 1+5+3+1 becomes 5+1
    assert [a.steps for a in advice] == [["fetch", "one", "two"]]
    assert advice[0].saving_s == 4.0
    assert advice[0].evidence["critical_path_s"] == 10.0 and advice[0].evidence["critical_path_after_s"] == 6.0
    assert advice[0].evidence["sequential_runs"] == 3


def test_no_parallel_advice_under_dag_true():
    text = TEXT.replace("name: Sample", "name: Sample\ndag: true")
    report = validate_text(text, "s.yaml")
    obs = observations({"fetch": [("succeeded", 1)] * 3, "one": [("succeeded", 5)] * 3,
                        "two": [("succeeded", 3)] * 3, "last": [("succeeded", 1)] * 3})
    assert parallel_advice(report.workflow, obs, text) == []


def test_critical_path_follows_the_plan():
    report = validate_text(TEXT.replace("name: Sample", "name: Sample\ndag: true"), "s.yaml")
    assert critical_path(report.plan, {"fetch": 1, "one": 5, "two": 3, "last": 1}) == 6


def test_apply_keeps_comments_and_the_result_validates():
    obs = observations({"fetch": [("failed", 0.1), ("succeeded", 1), ("succeeded", 1)],
                        "one": [("succeeded", 5)] * 3, "two": [("succeeded", 3)] * 3})
    wf = workflow()
    advice = retry_advice(wf, obs) + parallel_advice(wf, obs, TEXT)
    new, done = apply_advice(TEXT, False, advice)
    assert done == ["retry on fetch", "parallel group fetch, one, two"]
    for comment in ("# top comment", "# flaky", "\n      # before two\n      - id: two"):
        assert comment in new, new  # the comment above `two` moved with it, indented like it
    report = validate_text(new, "sample.yaml")
    assert report.valid, [p.format() for p in report.problems]
    data = yaml.safe_load(new)
    assert [s["id"] for s in data["steps"][0]["parallel"]] == ["fetch", "one", "two"]
    assert data["steps"][0]["parallel"][0]["retry"]["max_attempts"] >= 2
    only_retry, done = apply_advice(TEXT, False, advice, "retry")
    assert done == ["retry on fetch"] and "parallel" not in only_retry


def test_json_workflows_stay_json_and_fragments_are_yaml_items():
    data = yaml.safe_load(TEXT)
    text = json.dumps(data, indent=2) + "\n"
    change = Change("set", ("one",), {"timeout": "15s"})
    advice = timeout_advice(workflow(), observations({"one": [("succeeded", 2)] * 3 + [("succeeded", 40)]}))
    new, _ = apply_advice(text, True, advice)
    assert json.loads(new)["steps"][1]["timeout"] == advice[0].change.values["timeout"]
    assert yaml.safe_load(fragment(change, RoundTripDocument(TEXT).data)) == [{"id": "one", "timeout": "15s"}]


# --------------------------------------------------------------------------- outputs nobody reads

CHILD = """\
name: Build
outputs: {head: "{{ a.output }}", size: "{{ a.output }}", log: "{{ a.output }}"}
steps:
  - {id: a, tool: shell, parameters: {command: "echo"}}
"""
PARENT = """\
name: Release
steps:
  - {id: build, workflow: "Build"}
  - {id: tag, tool: shell, parameters: {command: "git tag {{ build.output.head }}"}}
"""
FOLLOWER = """\
name: Announce
triggers:
  - {type: workflow, workflow: build, name: after_build, parameters: {size: "{{ trigger.outputs.size }}"}}
parameters: {size: ""}
steps:
  - {id: say, tool: shell, parameters: {command: "echo {{ size }}"}}
"""


def _model(text: str):
    from yaml2dag.format.loader import load_text
    from yaml2dag.format.model_builder import build_workflow

    doc = load_text(text, "x.yaml")
    return build_workflow(doc.data, doc.file)


def test_outputs_no_consumer_reads_are_unused():
    from yaml2dag.optimize.outputs import unused_outputs

    child = _model(CHILD)
    others = [(_model(PARENT), "definitions/release.yaml"), (_model(FOLLOWER), "definitions/announce.yaml")]
    advice = unused_outputs(child, "definitions/build.yaml", others, 4)
    assert [a.evidence["output"] for a in advice] == ["log"]
    assert advice[0].kind == "unused" and advice[0].evidence["outputs_read"] == ["head", "size"]
    assert advice[0].evidence["consumers"] == ["Release (step build)", "Announce (trigger after_build)"]
    # no consumer: outputs are for people; a consumer reading the whole map reads every key
    assert unused_outputs(child, "definitions/build.yaml", [], 4) == []
    whole = _model(PARENT.replace("{{ build.output.head }}", "{{ build.output }}"))
    assert unused_outputs(child, "definitions/build.yaml", [(whole, "definitions/release.yaml")], 4) == []
