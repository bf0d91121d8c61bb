"""``yaml2dag create NAME --describe "..."``: a workflow drafted from one sentence.

Two ways, one result (a :class:`Draft`):

* **Without a model** (the default): :func:`draft_from_description` reads the sentence, in
  English or Chinese, with the phrase grammar of :mod:`yaml2dag.library.drafting` (schedules, clauses,
  verbs, tables, alerts, conditions that can fire) and reports every phrase: understood (and
  what it became), not understood (with the closest supported phrasing), or refused (with the
  reason: e.g. an alert whose condition could never be true). The supported phrases are listed
  in docs/manual/library_en.md and library_zh.md, "Describing a workflow".
* **With a model**: when ``YAML2DAG_LLM_URL`` is set, :func:`draft_with_llm` asks an
  OpenAI-compatible model for the YAML and feeds the validator's errors back (at most
  :data:`LLM_RETRIES` times).

:func:`parse_schedule` reads one schedule phrase ("every weekday at 9am", "每天早上9点") for
``yaml2dag schedule`` and the schedule question of ``create --interactive``.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from yaml2dag.library.drafting import DescribeError, Draft, draft, parse_schedule
from yaml2dag.format.loader import load_text
from yaml2dag.format.schema import schema_text
from yaml2dag.format.validation import validate_text
from yaml2dag.library.roundtrip import RoundTripDocument

#: How many times a model draft that does not validate is sent back with the errors.
LLM_RETRIES = 3


def draft_from_description(name: str, description: str) -> Draft:
    """Draft a workflow from a description with the phrase grammar (:func:`yaml2dag.library.drafting.draft`).

    Args:
        name: the workflow name.
        description: the sentence, English or Chinese ("pull latest code, run tests, and deploy
            if tests pass, every weekday at 9am"; "每天早上9点拉取最新代码，运行测试，如果测试通过就部署").

    Returns:
        The :class:`Draft`; :attr:`Draft.unknown` lists what was left out (with reasons), and
        :attr:`Draft.phrases` reports every phrase.

    Raises:
        DescribeError: no step was understood.
    """
    return draft(name, description)


# --------------------------------------------------------------------------- LLM drafts

LLM_SYSTEM_PROMPT = """You write workflow files for yaml2dag: YAML documents compiled into Dagster jobs.
Answer with the YAML document only (no prose), in a ```yaml fenced block.
Top-level keys: name (required), version, description, tags, parameters, triggers, defaults, steps (required), outputs, on_failure.
A step: id ([a-z_][a-z0-9_]*), name, tool, action, parameters, depends_on, when ("{{ step.succeeded }}"), on_error (abort|continue|retry|fallback), retry {max_attempts, backoff, delay}, timeout.
Tools and actions: shell.execute {command | args, cwd}; python.call {callable, args, kwargs}; http.request {url, method}; files.backup {source, target}; git.pull {directory}; git.clone {url, directory}; system.check {cpu_percent, memory_percent, disk_percent}; notify.log {message}; notify.webhook {url, text}; notify.email {to, subject, body}; approval.request {message, approvers}.
Schedules: triggers: [{type: schedule, cron: "0 9 * * 1-5", timezone: "UTC"}].
Templates are Jinja2 in quoted strings: "{{ branch }}", "{{ tests.output }}". A step that a later `when` checks needs on_error: continue.
The JSON Schema of the format follows.
"""


def _llm_endpoint(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions"


def _extract_yaml(content: str) -> str:
    match = re.search(r"```(?:ya?ml)?\s*\n(.*?)```", content, re.S)
    text = match.group(1) if match else content
    return text.strip() + "\n"


def draft_with_llm(name: str, description: str, *, url: str | None = None, model: str | None = None,
                   api_key: str | None = None, retries: int = LLM_RETRIES, timeout: float = 120.0,
                   post: Callable[..., Any] | None = None) -> Draft:
    """Ask an OpenAI-compatible chat model to draft the workflow; validate; feed errors back.

    Args:
        name: the workflow name (forced into the draft).
        description: what the workflow does.
        url: base URL (``$YAML2DAG_LLM_URL``), e.g. ``http://localhost:11434/v1``;
            ``/chat/completions`` is appended unless present.
        model: model name (``$YAML2DAG_LLM_MODEL``, default ``gpt-4o-mini``).
        api_key: bearer token (``$YAML2DAG_LLM_API_KEY``, else ``$OPENAI_API_KEY``; optional).
        retries: how many times an invalid draft is sent back with the validator's errors.
        timeout: seconds per HTTP request.
        post: ``requests.post`` replacement (tests).

    Returns:
        A valid :class:`Draft` (``source == "llm"``).

    Raises:
        DescribeError: the service failed, or no valid draft after ``retries`` corrections.
    """
    # lazy: requests is heavy and optional here; kept off light paths
    import requests

    url = url or os.environ.get("YAML2DAG_LLM_URL")
    if not url:
        raise DescribeError("no model configured: set YAML2DAG_LLM_URL")
    model = model or os.environ.get("YAML2DAG_LLM_MODEL") or "gpt-4o-mini"
    api_key = api_key or os.environ.get("YAML2DAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    post = post or requests.post
    messages = [
        {"role": "system", "content": LLM_SYSTEM_PROMPT + schema_text()},
        {"role": "user", "content": f"Workflow name: {name}\nWhat it does: {description}"},
    ]
    last_errors: list[str] = []
    for attempt in range(retries + 1):
        try:
            response = post(_llm_endpoint(url), headers=headers, timeout=timeout,
                            json={"model": model, "messages": messages, "temperature": 0})
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except Exception as exc:  # noqa: BLE001 - any transport or shape problem
            raise DescribeError(f"the model at {url} failed: {exc}") from None
        text = _extract_yaml(content or "")
        try:
            doc = RoundTripDocument(text)
            doc.set_top("name", name)
            doc.remove_top("id")
            if not doc.data.get("description"):
                doc.set_top("description", description, after=("version", "name"))
            text = doc.dump()
        except ValueError as exc:
            last_errors = [f"the answer is not a YAML mapping: {exc}"]
        else:
            report = validate_text(text, "draft.yaml")
            if report.valid:
                draft = Draft(name, load_text(text).data, source="llm", text=text)
                draft.notes.append(f"drafted by the model {model} at {url}"
                                   + (f" after {attempt} correction(s)" if attempt else ""))
                return draft
            last_errors = [p.format() for p in report.errors]
        messages.append({"role": "assistant", "content": content})
        messages.append({"role": "user", "content": "The yaml2dag validator reported these errors:\n"
                         + "\n".join(last_errors) + "\nAnswer with the whole corrected YAML document only."})
    raise DescribeError(f"the model's draft is still invalid after {retries} correction(s):\n" + "\n".join(last_errors))


__all__ = ["Draft", "DescribeError", "draft_from_description", "draft_with_llm", "parse_schedule"]
