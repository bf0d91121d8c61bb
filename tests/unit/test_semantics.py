"""The semantics engine (yaml2dag.format.semantics), table-driven: conditions, branches and
switches, skip reasons, retry waits and what happens after a failed attempt (spec §4).

The ops of a compiled job and the failure handling both call this module; these tests pin its
answers without starting Dagster.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from yaml2dag.format import semantics as sem
from yaml2dag.format.model import Branch, RetryConfig, Step, StepBody, Switch
from yaml2dag.format.errors import TemplateError

SCOPE = {"env_name": "prod", "count": 3, "flag": False, "empty": [], "text": "false", "ratio": 2.0,
         "build": {"status": "succeeded", "output": "ok"}}


@pytest.mark.parametrize("when, expected", [
    (None, True),
    (True, True),
    (False, False),
    ("env_name == 'prod'", True),
    ("env_name == 'dev'", False),
    ("{{ env_name == 'prod' }}", True),
    ("count > 2", True),
    ("count > 3", False),
    ("flag", False),
    ("empty", False),
    ("text", False),                # the string "false" is false
    ("build.status == 'succeeded'", True),
    ("{{ count }}", True),
    ("{{ '' }}", False),
])
def test_conditions_hold_as_spec_4_says(when, expected):
    assert sem.holds(when, SCOPE) is expected


def test_a_failing_condition_raises_a_template_error():
    with pytest.raises(TemplateError):
        sem.holds("missing_name > 1", SCOPE)


@pytest.mark.parametrize("value, text", [
    (True, "true"), (False, "false"), (None, "null"), (2.0, "2"), (2.5, "2.5"), (3, "3"), ("a", "a"),
])
def test_case_text(value, text):
    assert sem.case_text(value) == text


def _switch(expression: str, keys: tuple[str, ...], default: bool) -> Switch:
    cases = tuple((k, ()) for k in keys)
    return Switch(id="route", expression=expression, cases=cases, default=() if default else None)


@pytest.mark.parametrize("expression, keys, default, side", [
    ("env_name", ("prod", "dev"), False, "prod"),
    ("env_name", ("dev",), True, "default"),
    ("env_name", ("dev",), False, None),       # no case matches and no default: no side runs
    ("ratio", ("2", "3"), False, "2"),          # 2.0 matches the YAML key 2
    ("flag", ("true", "false"), True, "false"),
    ("build.output", ("ok",), True, "ok"),
])
def test_switch_takes_the_matching_case_else_default_else_none(expression, keys, default, side):
    assert sem.decide(_switch(expression, keys, default), SCOPE) == side


@pytest.mark.parametrize("condition, side", [
    ("count == 3", "then"), ("count == 4", "else"), ("{{ flag }}", "else"), (True, "then"),
])
def test_branch_takes_then_or_else(condition, side):
    branch = Branch(id="check", condition=condition, then=(), else_=())
    assert sem.decide(branch, SCOPE) == side


SKIPPED_BUILD = sem.skipped_result("its condition is false: x")


@pytest.mark.parametrize("gate, decision, results, check, reason", [
    (sem.Gate(), None, {}, None, None),
    (sem.Gate(context=("check", "then")), "then", {}, None, None),
    (sem.Gate(context=("check", "then")), "else", {}, None, "`check` took `else`, not `then`"),
    (sem.Gate(context=("route", "prod")), None, {}, None, "`route` took no side, not `prod`"),
    (sem.Gate(reads=("build",)), None, {"build": SKIPPED_BUILD}, None,
     "it reads step `build`, which was skipped"),
    # only its state is read: a skip is no reason to skip
    (sem.Gate(reads=("build",), state_reads=frozenset({"build"})), None, {"build": SKIPPED_BUILD}, None, None),
    (sem.Gate(when="count > 5"), None, {}, False, "its condition is false: count > 5"),
    (sem.Gate(when="count > 1"), None, {}, True, None),
    # the side decides before the condition, which is then never evaluated
    (sem.Gate(context=("check", "then"), when="boom"), "else", {}, "raise", "`check` took `else`, not `then`"),
    (sem.Gate(reads=("build",), when="boom"), None, {"build": SKIPPED_BUILD}, "raise",
     "it reads step `build`, which was skipped"),
])
def test_skip_reasons_in_order(gate, decision, results, check, reason):
    def checker(when):
        if check == "raise":
            raise AssertionError("the condition must not be evaluated")
        assert check is not None, "no condition to evaluate"
        return check

    assert gate.skip_reason(decision, results, checker) == reason


@pytest.mark.parametrize("results, reads, state_reads, first", [
    ({}, ("a",), frozenset(), None),                                  # not ended yet: not skipped
    ({"a": sem.result(1)}, ("a",), frozenset(), None),
    ({"a": sem.result(1), "b": SKIPPED_BUILD}, ("a", "b"), frozenset(), "b"),
    ({"a": SKIPPED_BUILD, "b": SKIPPED_BUILD}, ("a", "b"), frozenset({"a"}), "b"),
    ({"a": None}, ("a",), frozenset(), None),
])
def test_first_skipped(results, reads, state_reads, first):
    assert sem.first_skipped(results, reads, state_reads) == first


@pytest.mark.parametrize("backoff, delay, max_delay, attempts, waits", [
    ("constant", 2.0, 300.0, 4, [2.0, 2.0, 2.0]),
    ("linear", 1.5, 300.0, 4, [1.5, 3.0, 4.5]),
    ("exponential", 1.0, 300.0, 5, [1.0, 2.0, 4.0, 8.0]),
    ("exponential", 1.0, 5.0, 6, [1.0, 2.0, 4.0, 5.0, 5.0]),     # capped at max_delay
    ("linear", 10.0, 15.0, 4, [10.0, 15.0, 15.0]),
    ("constant", 1.0, 300.0, 1, []),                             # one attempt: no retry
])
def test_retry_wait_sequences(backoff, delay, max_delay, attempts, waits):
    retry = RetryConfig(max_attempts=attempts, backoff=backoff, delay=delay, max_delay=max_delay)
    assert sem.retry_waits(retry) == waits
    assert [sem.retry_wait(retry, n) for n in range(1, attempts)] == waits
    assert retry.schedule() == waits  # the model asks the engine


def test_jitter_draws_up_to_the_capped_wait_and_schedule_ignores_it():
    retry = RetryConfig(max_attempts=5, backoff="exponential", delay=1.0, max_delay=3.0, jitter=True)
    rng = random.Random(7)
    for n, cap in zip(range(1, 5), [1.0, 2.0, 3.0, 3.0]):
        waits = {sem.retry_wait(retry, n, rng) for _ in range(50)}
        assert all(0 <= w <= cap for w in waits) and len(waits) > 1
    assert sem.retry_waits(retry) == [1.0, 2.0, 3.0, 3.0]
    again = random.Random(7)
    assert sem.retry_wait(retry, 3, random.Random(7)) == sem.retry_wait(retry, 3, again)


@pytest.mark.parametrize("retry, matches", [
    (None, False),
    (RetryConfig(max_attempts=1), False),
    (RetryConfig(max_attempts=3, backoff="constant", delay=1.0), True),
    (RetryConfig(max_attempts=4, backoff="linear", delay=2.0, max_delay=6.0), True),
    (RetryConfig(max_attempts=5, backoff="linear", delay=2.0, max_delay=6.0), False),  # the cap bites
    (RetryConfig(max_attempts=3, backoff="exponential"), False),
    (RetryConfig(max_attempts=3, backoff="constant", delay=10.0, max_delay=5.0), False),
])
def test_when_dagsters_retry_policy_waits_as_the_step_does(retry, matches):
    assert sem.matches_dagster_retry_policy(retry) is matches


FALLBACK = StepBody(tool="shell", parameters={"command": "echo fallback"})


@pytest.mark.parametrize("on_error, retry, fallback, attempt, retryable, action, wait", [
    ("abort", None, None, 1, True, sem.ABORT, 0.0),
    ("retry", RetryConfig(max_attempts=3, delay=2.0), None, 1, True, sem.RETRY, 2.0),
    ("retry", RetryConfig(max_attempts=3, backoff="linear", delay=2.0), None, 2, True, sem.RETRY, 4.0),
    ("retry", RetryConfig(max_attempts=3, delay=2.0), None, 3, True, sem.ABORT, 0.0),      # attempts used up
    ("retry", RetryConfig(max_attempts=3, delay=2.0), None, 1, False, sem.ABORT, 0.0),     # not retryable
    ("continue", None, None, 1, True, sem.CONTINUE, 0.0),
    ("continue", RetryConfig(max_attempts=2), None, 2, True, sem.CONTINUE, 0.0),
    ("continue", RetryConfig(max_attempts=2, delay=0.5), None, 1, True, sem.RETRY, 0.5),
    ("fallback", None, FALLBACK, 1, True, sem.RUN_FALLBACK, 0.0),
    ("fallback", RetryConfig(max_attempts=2, delay=0.5), FALLBACK, 1, False, sem.RUN_FALLBACK, 0.0),
    ("fallback", None, None, 1, True, sem.ABORT, 0.0),                                    # nothing to run
])
def test_after_a_failed_attempt(on_error, retry, fallback, attempt, retryable, action, wait):
    step = Step(id="s", tool="shell", on_error=on_error, retry=retry, fallback=fallback)
    assert sem.after_failure(step, attempt, retryable) == sem.AfterFailure(action, wait)


@pytest.mark.parametrize("res, outcome", [
    (sem.result("x"), sem.SUCCEEDED),
    (sem.skipped_result("why"), sem.SKIPPED),
    (sem.result(None, status=sem.FAILED, error="e"), sem.CONTINUED),
    (sem.result("fb", status=sem.FAILED, error="e", fields={"fallback": True}), sem.FALLBACK),
])
def test_outcomes(res, outcome):
    assert sem.outcome(res) == outcome
    assert outcome in sem.OUTCOMES


def test_step_results_have_the_documented_shape():
    res = sem.result("out", status=sem.FAILED, error="boom", duration=1.23456789, attempts=2,
                     fields={"stdout": "x", "status": "ignored"})
    assert res == {"stdout": "x", "output": "out", "status": "failed", "succeeded": False, "error": "boom",
                   "duration": 1.234568, "attempts": 2}
    skipped = sem.skipped_result("its condition is false: x")
    assert skipped["status"] == "skipped" and skipped["attempts"] == 0 and skipped["reason"].startswith("its")
    assert skipped["stdout"] is None  # any tool field of a skipped step reads as null


def test_the_engine_does_not_import_dagster():
    code = ("import sys, yaml2dag.format.semantics, yaml2dag.format.model; "
            "sys.exit(1 if any(m == 'dagster' or m.startswith('dagster.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
