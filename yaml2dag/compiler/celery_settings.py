"""Where the steps of a Celery run go: the settings of the broker, result backend and queue, the
Celery app, and the run storage keys through which the orchestrator and the workers talk
(a step's claim and heartbeat, a run's cancel request).

Settings come from the environment and the Dagster home, never from the workflow file
(:func:`celery_settings`). The executor is :mod:`.celery`, the worker side
:mod:`.celery_worker`, the worker's app :mod:`.celery_app`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml2dag.format.definitions_folder import definitions_dir
from yaml2dag.format.executors import ExecutorSettingError
from yaml2dag.format.tags import CELERY_KEY_PREFIX
from dagster_celery.config import DEFAULT_CONFIG
from dagster_celery.executor import celery_executor
import yaml
from yaml2dag.dagster_internals import validate_config

#: Name of the Celery task that executes one step (registered by :mod:`.celery_app`).
TASK_NAME = "yaml2dag.execute_step"

BROKER_ENV = "YAML2DAG_CELERY_BROKER"
BACKEND_ENV = "YAML2DAG_CELERY_BACKEND"
QUEUE_ENV = "YAML2DAG_CELERY_QUEUE"
HEARTBEAT_ENV = "YAML2DAG_CELERY_HEARTBEAT"
#: File of the Dagster home holding the Celery settings: the block ``dagster-celery worker
#: start -y FILE`` reads (``execution: config: {broker, backend, config_source}``).
SETTINGS_FILE = "celery.yaml"

DEFAULT_QUEUE = "yaml2dag"
DEFAULT_BACKEND = "rpc://"
#: Seconds between two heartbeats of a running step (``$YAML2DAG_CELERY_HEARTBEAT``).
DEFAULT_HEARTBEAT = 5.0
#: A step whose worker missed this many heartbeats in a row is lost (30 s by default).
LOST_AFTER_BEATS = 6
#: Seconds an unused result reply queue (``rpc://``) stays on the broker.
REPLY_QUEUE_EXPIRES = 600
#: Prefix of the run storage keys (Dagster's key-value store) the Celery executor uses.
KEY_PREFIX = CELERY_KEY_PREFIX


def _dagster_default_broker(env: Mapping[str, str]) -> str:
    # Dagster's default (dagster_celery.defaults.broker_url), without importing Celery
    return f"pyamqp://guest@{env.get('DAGSTER_CELERY_BROKER_HOST') or 'localhost'}:5672//"


@dataclass(frozen=True)
class CelerySettings:
    """Where the Celery tasks of a run go (:func:`celery_settings`).

    Attributes:
        broker: the broker URL (may hold a password: show it with :meth:`safe_broker` only).
        backend: the result backend URL (default ``rpc://``: results come back over the broker).
        queue: the queue the steps are sent to; workers must consume it.
        heartbeat: seconds between two heartbeats of a running step.
        config_source: extra Celery settings (lowercase names), from the settings file.
    """

    broker: str
    backend: str = DEFAULT_BACKEND
    queue: str = DEFAULT_QUEUE
    heartbeat: float = DEFAULT_HEARTBEAT
    config_source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lost_after(self) -> float:
        """Seconds without a heartbeat after which a running step's worker is lost."""
        return LOST_AFTER_BEATS * self.heartbeat

    def safe_broker(self) -> str:
        """The broker URL with its password masked (for messages)."""
        # lazy: kombu is heavy and optional here; kept off light paths
        from kombu.utils.url import maybe_sanitize_url

        return maybe_sanitize_url(self.broker)


def settings_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$DAGSTER_HOME/celery.yaml`` when DAGSTER_HOME is set, else None."""
    env = os.environ if environ is None else environ
    home = env.get("DAGSTER_HOME")
    return Path(home) / SETTINGS_FILE if home else None


def celery_settings(environ: Mapping[str, str] | None = None) -> CelerySettings:
    """The Celery settings of this process, from the environment and the Dagster home.

    Each setting comes from the first of:

    * broker: ``$YAML2DAG_CELERY_BROKER``; ``execution.config.broker`` of
      ``$DAGSTER_HOME/celery.yaml`` (``{env: VAR}`` allowed, as in Dagster's config); Dagster's
      default ``pyamqp://guest@$DAGSTER_CELERY_BROKER_HOST:5672//`` (host default
      ``localhost``);
    * backend: ``$YAML2DAG_CELERY_BACKEND``; the file's ``backend``; ``rpc://``;
    * queue: ``$YAML2DAG_CELERY_QUEUE``; the file's ``config_source.task_default_queue``;
      ``yaml2dag``;
    * heartbeat: ``$YAML2DAG_CELERY_HEARTBEAT`` (seconds, > 0); 5.

    The settings file is the one ``dagster-celery worker start -y`` takes, so orchestrators and
    workers can share it.

    Raises:
        ExecutorSettingError: the file is not valid Dagster Celery config (the message names
            the file), or a variable has a wrong value (the message names it and what is
            expected).
    """
    env = os.environ if environ is None else environ
    file_config: dict[str, Any] = {}
    path = settings_file(env)
    if path is not None and path.is_file():
        file_config = _read_settings_file(path, env)
    source = dict(file_config.get("config_source") or {})
    raw_heartbeat = (env.get(HEARTBEAT_ENV) or "").strip()
    heartbeat = DEFAULT_HEARTBEAT
    if raw_heartbeat:
        try:
            heartbeat = float(raw_heartbeat)
        except ValueError:
            heartbeat = -1.0
        if not (0 < heartbeat < 3600):
            raise ExecutorSettingError(f"{HEARTBEAT_ENV}: expected a number of seconds above 0 and below 3600, "
                                       f"got {raw_heartbeat!r}")
    queue = (env.get(QUEUE_ENV) or "").strip() or str(source.get("task_default_queue") or DEFAULT_QUEUE)
    return CelerySettings(
        broker=(env.get(BROKER_ENV) or "").strip() or file_config.get("broker") or _dagster_default_broker(env),
        backend=(env.get(BACKEND_ENV) or "").strip() or file_config.get("backend") or DEFAULT_BACKEND,
        queue=queue,
        heartbeat=heartbeat,
        config_source=source,
    )


def _read_settings_file(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``execution.config`` block of a settings file, checked against Dagster's Celery
    executor config, ``{env: VAR}`` values read from ``env``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExecutorSettingError(f"{path}: cannot be read as Celery executor config: {first}") from None
    execution = data.get("execution") if isinstance(data, dict) else None
    if not isinstance(execution, dict):
        raise ExecutorSettingError(f"{path}: not valid Celery executor config: expected a mapping `execution: config: ...`")
    config = execution.get("config") or execution.get("celery") or {}
    checked = validate_config(celery_executor.config_schema.config_type, config)
    if not checked.success:
        details = "; ".join(e.message for e in checked.errors)
        raise ExecutorSettingError(f"{path}: not valid Celery executor config: {details}")
    out = dict(config)
    for key in ("broker", "backend"):
        value = out.get(key)
        if isinstance(value, dict) and "env" in value:
            variable = str(value["env"])
            if not env.get(variable):
                raise ExecutorSettingError(f"{path}: execution.config.{key} is read from the environment variable "
                                           f"{variable}, which is not set")
            out[key] = env[variable]
    return out


# --------------------------------------------------------------------------- storage keys


def claim_key(run_id: str, step_key: str) -> str:
    """Run storage key of the claim (and heartbeat) of a step's current task."""
    return f"{KEY_PREFIX}{run_id}/step/{step_key}"


def cancel_key(run_id: str) -> str:
    """Run storage key holding why a run's steps must stop (absent while they may run)."""
    return f"{KEY_PREFIX}{run_id}/cancel"


def parse_claim(value: str | None) -> dict:
    """A JSON object stored under a run storage key (a claim), or {} when absent or not one."""
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}



_apps: dict[tuple, Any] = {}
_apps_lock = threading.Lock()


def make_app(settings: CelerySettings, worker: bool = False) -> Any:
    """The Celery app for ``settings`` (cached per settings in the orchestrator).

    Dagster's Celery defaults (``dagster_celery.config.DEFAULT_CONFIG``: prefetch of one task,
    fast-failing broker connections), then ``config_source``, then the queue.
    """
    # lazy: celery is heavy and optional here; kept off light paths
    from celery import Celery

    key = (settings.broker, settings.backend, settings.queue,
           json.dumps(dict(settings.config_source), sort_keys=True, default=str))
    if not worker:
        with _apps_lock:
            if key in _apps:
                return _apps[key]
    app = Celery("yaml2dag", broker=settings.broker, backend=settings.backend)
    conf = dict(DEFAULT_CONFIG)
    # the rpc backend's reply queue of a process that ended goes away after this (seconds idle)
    conf["result_expires"] = REPLY_QUEUE_EXPIRES
    conf.update(settings.config_source)
    conf.update(task_default_queue=settings.queue, task_serializer="json", result_serializer="json",
                accept_content=["json"], broker_connection_retry_on_startup=True)
    app.conf.update(conf)
    if not worker:
        with _apps_lock:
            _apps.setdefault(key, app)
            return _apps[key]
    return app


#: Variables of the orchestrator a worker takes for a task when its own environment has none:
#: how the job is rebuilt there (the definitions folder of a ``yaml2dag.definitions`` run).
PASSED_VARIABLES = ("YAML2DAG_DEFINITIONS", "YAML2DAG_EXECUTOR")


def passed_environment() -> dict[str, str]:
    """The :data:`PASSED_VARIABLES` of this process to send with a task (the definitions folder always)."""
    out = {name: os.environ[name] for name in PASSED_VARIABLES if os.environ.get(name)}
    out["YAML2DAG_DEFINITIONS"] = str(definitions_dir().resolve())
    return out


__all__ = ["BACKEND_ENV", "BROKER_ENV", "HEARTBEAT_ENV", "PASSED_VARIABLES", "QUEUE_ENV", "TASK_NAME",
           "CelerySettings", "cancel_key", "celery_settings", "claim_key", "make_app", "parse_claim",
           "passed_environment", "settings_file"]
