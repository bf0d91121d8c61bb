"""What a workflow's control flow means, evaluated: conditions, branches, switches, retry waits
and step outcomes (spec §4). One engine, no Dagster.

Every place a workflow's steps run asks this module, so a ``when``, a ``switch`` default or a
retry wait means the same everywhere:

* the Dagster ops of a compiled job (:mod:`yaml2dag.compiler.ops`,
  :mod:`yaml2dag.compiler.gate_ops`): the condition op of a step, the decision op of a
  branch or switch, a step's retries and ``on_error``;
* the failure handling inside a failed run (:mod:`yaml2dag.compiler.failure`), which runs the
  ``on_failure`` steps itself, in plan order, with the same conditions, branches, retries and
  ``on_error``.

The callers build the template scope and decide *where* an expression is evaluated (the ops
evaluate inside the step's time, :func:`yaml2dag.compiler.runtime.within_step_time`); this
module decides *what it means*.

A step result is a plain dict::

    {"output": ..., "status": "succeeded" | "failed" | "skipped", "succeeded": bool,
     "error": str | None, "duration": seconds, "attempts": int, **tool_fields}

and its *outcome* (the ``status`` metadata of its Dagster output, what ``yaml2dag status`` and
the run history show) one of :data:`OUTCOMES`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from yaml2dag.format.expressions import evaluate, truthy

# ``Branch``, ``RetryConfig``, ``Step`` and ``Switch`` in annotations are yaml2dag.format.model's,
# named as strings and not imported (not even under TYPE_CHECKING): the model imports this module
# (RetryConfig.delay_for), and the import graph is kept acyclic, type-checking imports included.

# --------------------------------------------------------------------------- step results

#: ``status`` of a step result: the step's action succeeded.
SUCCEEDED = "succeeded"
#: ``status`` of a step result: the step failed (it went on under ``on_error: continue`` or
#: ``fallback``; under ``abort`` there is no result).
FAILED = "failed"
#: ``status`` of a step result: the step never ran (its condition, its branch, or a skipped
#: step whose result it reads).
SKIPPED = "skipped"

#: Outcome: the step failed and the workflow went on (``on_error: continue``), or some elements
#: of a ``for_each`` step failed.
CONTINUED = "continued"
#: Outcome: the step failed and its ``fallback`` ran instead (result ``status: failed``, field
#: ``fallback: true``).
FALLBACK = "fallback"
#: Every outcome of a step that ended with a result, and ``failed`` (a step that failed the run).
OUTCOMES = (SUCCEEDED, CONTINUED, FALLBACK, SKIPPED, FAILED)


def result(output: Any = None, *, status: str = SUCCEEDED, error: str | None = None,
           duration: float = 0.0, attempts: int = 1, fields: Mapping[str, Any] | None = None) -> dict:
    """A step result dict (see the module docstring).

    Args:
        output: the action's output.
        status: :data:`SUCCEEDED`, :data:`FAILED` or :data:`SKIPPED`.
        error: the error message of a failed step.
        duration: seconds the step took (rounded to microseconds).
        attempts: attempts made, the first one included (0 for a skipped step).
        fields: the tool's extra fields (``stdout``, ``exit_code``, ...); the standard keys win.
    """
    out = dict(fields or {})
    out.update(
        output=output,
        status=status,
        succeeded=status == SUCCEEDED,
        error=error,
        duration=round(duration, 6),
        attempts=attempts,
    )
    return out


class SkippedResult(dict):
    """A skipped step's result: any tool field reads as null (``{{ tests.stdout }}``)."""

    def __missing__(self, key: str) -> None:
        return None


def skipped_result(reason: str) -> dict:
    """The result a skipped step exposes to ordering successors and to workflow outputs:
    ``status: skipped``, 0 attempts, and ``reason``."""
    out = SkippedResult(result(None, status=SKIPPED, attempts=0))  # it never ran
    out["reason"] = reason
    return out


def outcome(res: Mapping[str, Any]) -> str:
    """The outcome (:data:`OUTCOMES`) of a step that ended with result ``res``: ``succeeded``,
    ``skipped``, ``fallback`` (failed, its fallback ran) or ``continued`` (failed, went on)."""
    status = res.get("status")
    if status in (SUCCEEDED, SKIPPED):
        return str(status)
    return FALLBACK if res.get("fallback") else CONTINUED


# --------------------------------------------------------------------------- conditions


def has_condition(when: Any) -> bool:
    """True when ``when`` must be evaluated (absent and ``true`` always hold)."""
    return when is not None and when is not True


def holds(condition: Any, scope: Mapping[str, Any]) -> bool:
    """Whether a ``when``/``if`` condition holds in ``scope``: absent (None) and ``true`` hold;
    a string is a bare expression or a template, true when the value is truthy
    (:func:`yaml2dag.format.expressions.truthy`: ``"false"``, ``"0"``, ``""``, empty
    collections and null are false).

    Raises:
        TemplateError: the expression failed.
    """
    if not has_condition(condition):
        return True
    return truthy(evaluate(condition, scope))


def condition_false(when: Any) -> str:
    """The skip reason of a step whose ``when`` is false."""
    return f"its condition is false: {when}"


def side_not_taken(context: tuple[str, str] | None, decision: Any) -> str | None:
    """Why a node inside a branch/switch side does not run, or None when the side was taken.

    Args:
        context: ``(decision node id, side)`` the node belongs to, or None (not inside one).
        decision: what that decision node took (a side name, or None: no side).
    """
    if context is None or decision == context[1]:
        return None
    taken = "no side" if decision is None else f"`{decision}`"
    return f"`{context[0]}` took {taken}, not `{context[1]}`"


def first_skipped(results: Mapping[str, Any], reads: tuple[str, ...],
                  state_reads: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The first step of ``reads`` that was skipped and whose result (not only its state:
    ``state_reads``, spec §4) is read, or None. A step missing from ``results`` has not ended
    and is not skipped."""
    for r in reads:
        value = results.get(r)
        if r not in state_reads and isinstance(value, Mapping) and value.get("status") == SKIPPED:
            return r
    return None


def read_skipped(step_id: str) -> str:
    """The skip reason of a node that reads the result of the skipped step ``step_id``."""
    return f"it reads step `{step_id}`, which was skipped"


@dataclass(frozen=True)
class Gate:
    """What decides whether a node of a plan runs (spec §4 ``when``, branches, skips).

    Attributes:
        context: ``(decision node id, side)`` the node sits in, or None.
        reads: steps whose results the node's templates read.
        state_reads: those of ``reads`` it only reads the state of (``.status``, ...): a skip
            of one of them is no reason to skip.
        when: the node's ``when`` condition (None for a branch/switch: their own expression is
            their decision, :func:`decide`).
    """

    context: tuple[str, str] | None = None
    reads: tuple[str, ...] = ()
    state_reads: frozenset[str] = frozenset()
    when: Any = None

    @classmethod
    def of(cls, node: Any) -> "Gate":
        """The gate of a :class:`yaml2dag.format.plan.Node`."""
        when = None if node.is_decision else getattr(node.entry, "when", None)
        return cls(node.context, tuple(node.reads), frozenset(node.state_reads), when)

    def not_reached(self, decision: Any) -> str | None:
        """:func:`side_not_taken` for this node."""
        return side_not_taken(self.context, decision)

    def skipped_read(self, results: Mapping[str, Any]) -> str | None:
        """:func:`first_skipped` for this node."""
        return first_skipped(results, self.reads, self.state_reads)

    def skip_reason(self, decision: Any, results: Mapping[str, Any],
                    check: Callable[[Any], bool]) -> str | None:
        """Why the step is skipped, or None when it runs. In order: its branch side was not
        taken; it reads the result of a skipped step; its ``when`` is false.

        Args:
            decision: what the decision node of :attr:`context` took (ignored without one).
            results: results of the steps it reads, by step id.
            check: evaluates the ``when`` condition (``lambda when: holds(when, scope)``, in the
                caller's time limits); called only when needed.

        Raises:
            whatever ``check`` raises (TemplateError for a failing expression).
        """
        reason = self.not_reached(decision)
        if reason is None:
            skipped = self.skipped_read(results)
            if skipped is not None:
                reason = read_skipped(skipped)
        if reason is None and has_condition(self.when) and not check(self.when):
            reason = condition_false(self.when)
        return reason


# --------------------------------------------------------------------------- branches and switches

#: Sides of a branch, and the side of a switch taken when no case matches.
THEN, ELSE, DEFAULT = "then", "else", "default"


def case_text(value: Any) -> str:
    """The text a switch value is compared to case keys with: ``true``/``false``, ``null``,
    ``2`` for ``2.0``, else ``str(value)`` (case keys are YAML mapping keys read as text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def switch_side(value: Any, case_keys: list[str] | tuple[str, ...], has_default: bool) -> str | None:
    """The side of a switch whose expression gave ``value``: the matching case key, else
    ``default`` when the switch has one, else None (no side runs)."""
    text = case_text(value)
    if text in case_keys:
        return text
    return DEFAULT if has_default else None


def decide(entry: "Branch | Switch", scope: Mapping[str, Any]) -> str | None:
    """The side a branch (``then``/``else``) or switch (a case key, ``default`` or None) takes.

    Raises:
        TemplateError: the condition or expression failed.
    """
    if entry.kind == "branch":
        return THEN if truthy(evaluate(entry.condition, scope)) else ELSE
    keys = [key for key, _entries in entry.cases]
    return switch_side(evaluate(entry.expression, scope), keys, entry.default is not None)


# --------------------------------------------------------------------------- retries


def retry_wait(retry: "RetryConfig", retry_number: int, rng: random.Random | None = None, *,
               jitter: bool | None = None) -> float:
    """Seconds to wait before retry ``retry_number`` (1 = the first retry; spec §4 ``retry``).

    ``delay`` (constant), ``delay * n`` (linear) or ``delay * 2**(n-1)`` (exponential), capped at
    ``max_delay``; with jitter (``retry.jitter`` unless ``jitter`` says otherwise) a uniformly
    random time between 0 and that wait, drawn from ``rng`` ("full jitter", as in AWS's
    architecture guidance and Dagster's ``Jitter.FULL``).
    """
    if retry.backoff == "linear":
        wait = retry.delay * retry_number
    elif retry.backoff == "exponential":
        wait = retry.delay * (2 ** (retry_number - 1))
    else:
        wait = retry.delay
    wait = min(wait, retry.max_delay)
    if retry.jitter if jitter is None else jitter:
        wait = (rng or random).uniform(0, wait)
    return wait


def retry_waits(retry: "RetryConfig") -> list[float]:
    """The waits before each retry, without jitter: ``[1.0, 2.0, 4.0]`` for 4 exponential
    attempts of 1 s (with jitter, the upper bounds of the random waits)."""
    return [retry_wait(retry, n, jitter=False) for n in range(1, retry.max_attempts)]


def matches_dagster_retry_policy(retry: "RetryConfig | None") -> bool:
    """Whether Dagster's ``RetryPolicy`` waits exactly as ``retry`` does, so the op can use it.

    Dagster's formulas match for constant and linear backoff as long as the ``max_delay`` cap
    never bites; exponential does not match (Dagster: ``delay*(2^n-1)``, ours:
    ``delay*2^(n-1)``), nor does a single attempt (nothing to retry).
    """
    if retry is None or retry.max_attempts <= 1 or retry.backoff == "exponential":
        return False
    longest = retry.delay * (retry.max_attempts - 1 if retry.backoff == "linear" else 1)
    return longest <= retry.max_delay


# --------------------------------------------------------------------------- after a failed attempt

#: What happens after a failed attempt (:func:`after_failure`).
RETRY, CONTINUE, RUN_FALLBACK, ABORT = "retry", "continue", "fallback", "abort"


@dataclass(frozen=True)
class AfterFailure:
    """What happens after a step's attempt failed.

    Attributes:
        action: :data:`RETRY` (try again after ``wait`` seconds), :data:`CONTINUE` (the step
            ends ``failed``, the workflow goes on), :data:`RUN_FALLBACK` (its ``fallback`` runs)
            or :data:`ABORT` (the step fails the run).
        wait: seconds to wait before the retry; 0 otherwise.
    """

    action: str
    wait: float = 0.0


def after_failure(step: "Step", attempt: int, retryable: bool = True,
                  rng: random.Random | None = None) -> AfterFailure:
    """What happens after attempt ``attempt`` (1-based) of ``step`` failed (spec §4 ``retry``,
    ``on_error``, ``fallback``).

    Args:
        step: the step.
        attempt: the attempt that failed (1 = the first try).
        retryable: whether another attempt could succeed (template errors and tool
            configuration errors cannot: :func:`yaml2dag.compiler.runtime.is_retryable`).
        rng: random source for the retry's jitter.

    Returns:
        A retry while attempts are left (``retry.max_attempts``) and the error is retryable;
        else ``continue`` (``on_error: continue``), ``fallback`` (``on_error: fallback`` with a
        ``fallback`` body) or ``abort``.
    """
    if retryable and attempt < step.max_attempts:
        wait = retry_wait(step.retry, attempt, rng) if step.retry is not None else 0.0
        return AfterFailure(RETRY, wait)
    final = step.final_on_error
    if final == "continue":
        return AfterFailure(CONTINUE)
    if final == "fallback" and step.fallback is not None:
        return AfterFailure(RUN_FALLBACK)
    return AfterFailure(ABORT)


__all__ = [
    "ABORT", "CONTINUE", "CONTINUED", "DEFAULT", "ELSE", "FAILED", "FALLBACK", "OUTCOMES", "RETRY",
    "RUN_FALLBACK", "SKIPPED", "SUCCEEDED", "THEN", "AfterFailure", "Gate", "SkippedResult",
    "after_failure", "case_text", "condition_false", "decide", "first_skipped", "has_condition", "holds",
    "matches_dagster_retry_policy", "outcome", "read_skipped", "result", "retry_wait", "retry_waits",
    "side_not_taken", "skipped_result", "switch_side",
]
