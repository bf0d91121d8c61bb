"""Every tag and metadata key yaml2dag writes into Dagster, in one place.

The compiler writes them (job tags, op tags, event metadata), and the runs, tracking, run
history, triggers and the CLI read them back: they all import the names from here, so a key
cannot drift between writer and reader. Node names and their suffixes (``<step>__when``, ...)
are in :mod:`yaml2dag.format.naming`. No Dagster imports.

Keys are namespaced ``yaml2dag/...`` (Dagster reserves ``dagster/...``; run tags, op tags and
metadata keys share no namespace in Dagster, but one prefix keeps them recognisable).
"""

from __future__ import annotations

#: Prefix of every key below.
PREFIX = "yaml2dag/"

# --------------------------------------------------------------------------- run tags (job tags)

#: Run tag: the workflow's ``name`` (the job is named after its ``id``).
TAG_WORKFLOW = "yaml2dag/workflow"
#: Run tag: the workflow's ``version``.
TAG_VERSION = "yaml2dag/version"
#: Run tag: SHA-256 of the workflow file the run was compiled from.
TAG_HASH = "yaml2dag/hash"
#: Run tag: what started the run (``cli``, ``schedule``, ``sensor``, ``ui``, ...).
TAG_TRIGGER = "yaml2dag/trigger"
#: Run tag: JSON of the trigger's details (``trigger.*`` in templates).
TAG_TRIGGER_INFO = "yaml2dag/trigger_info"
#: Run tag: who started the run from the CLI.
TAG_USER = "yaml2dag/user"
#: Run tag: the run a re-execution retries, and how (``all`` steps or ``from_failure``).
TAG_RETRY_OF = "yaml2dag/retry_of"
TAG_RETRY_MODE = "yaml2dag/retry_mode"
#: Run tags of a run started by ``yaml2dag run``: its process and host (a run whose CLI process
#: died is failed and reaped, :mod:`yaml2dag.compiler.run_health`).
TAG_CLI_PID = "yaml2dag/cli_pid"
TAG_CLI_HOST = "yaml2dag/cli_host"
#: Prefix of every ``TAG_CLI_*`` run tag (a re-execution replaces them with its own process's).
CLI_TAG_PREFIX = "yaml2dag/cli_"
#: Run tag: the CLI process's start time (seconds since the epoch, psutil's ``create_time``).
TAG_CLI_STARTED = "yaml2dag/cli_started"
#: Run tag: the CLI process's pid namespace (Linux ``/proc/self/ns/pid``): two containers may share
#: a host name and a DAGSTER_HOME, never a pid namespace, so a pid is only judged inside its own.
TAG_CLI_PID_NAMESPACE = "yaml2dag/cli_pid_namespace"
#: Prefix of the run-queue concurrency tag; the suffix is the limit (``yaml2dag/concurrency_2``),
#: matched by a rule in the shipped dagster.yaml.
CONCURRENCY_TAG_PREFIX = "yaml2dag/concurrency_"
#: Job tag: the ``concurrency.key`` template and the parameter defaults (JSON), read by the run
#: coordinator to render the key from a run's own run config.
TAG_CONCURRENCY_KEY = "yaml2dag/concurrency_key"
#: Run tag: the outcome of the run's rollback, set when its failure handling finishes and at
#: least one ``compensate`` ran: :data:`ROLLED_BACK` (every compensation succeeded) or
#: :data:`ROLLBACK_FAILED`. A run tag so the Dagster UI's run list shows and filters it.
TAG_ROLLBACK = "yaml2dag/rollback"
#: Values of :data:`TAG_ROLLBACK` (issue 15, point 1).
ROLLED_BACK = "rolled back"
ROLLBACK_FAILED = "rollback failed"
#: Run tag: the mode of a run started by ``yaml2dag run`` (``autopilot``, ``supervised``,
#: ``hybrid``; :mod:`yaml2dag.format.run_modes`); absent on runs started elsewhere.
TAG_MODE = "yaml2dag/mode"
#: Job tag of the stand-in job of a workflow file that does not validate.
TAG_INVALID = "yaml2dag/invalid"
#: Job tag (stand-in job) and job metadata: the workflow file.
TAG_FILE = "yaml2dag/file"

# --------------------------------------------------------------------------- op tags

#: Op tag: what an op is (``step``, ``for_each_element``, ``condition``, ``branch``, ``switch``,
#: ``for_each_items``, ``for_each_results``, ``subworkflow_parameters``, ``outputs``).
TAG_STEP_KIND = "yaml2dag/kind"
#: Op tag: the parallel group a step belongs to (its ``max_parallel`` is a tag concurrency limit).
TAG_PARALLEL_GROUP = "yaml2dag/parallel_group"
#: Op tag: the ``for_each`` step an element op belongs to (its ``max_parallel``).
TAG_FOR_EACH = "yaml2dag/for_each"
#: Op tag: the attempts a step's ``retry`` allows, when more than one (read by executors that
#: must decide on a retry outside the op, e.g. when a Celery worker is lost mid-step).
TAG_MAX_ATTEMPTS = "yaml2dag/max_attempts"

# --------------------------------------------------------------------------- job metadata

META_FILE = TAG_FILE
META_VERSION = TAG_VERSION
META_AUTHOR = "yaml2dag/author"
META_TAGS = "yaml2dag/tags"

# --------------------------------------------------------------------------- schedule and sensor metadata

META_WORKFLOW = TAG_WORKFLOW
META_CRON = "yaml2dag/cron"
META_WATCH = "yaml2dag/watch"
META_UPSTREAM = "yaml2dag/upstream"
META_UPSTREAM_JOB = "yaml2dag/upstream_job"
META_STATUS = "yaml2dag/status"

# --------------------------------------------------------------------------- engine event markers

#: Engine event metadata key of failure handling (``started``, ``compensate``, ``on_failure``,
#: ``fallback``, ``finished``): :mod:`yaml2dag.compiler.failure`.
FAILURE_MARKER = "yaml2dag/failure"
#: Engine event metadata key of an approval (``waiting``, ``resolved``).
APPROVAL_MARKER = "yaml2dag/approval"
#: Engine event metadata key of a cancellation request.
CANCEL_MARKER = "yaml2dag/cancel"
#: Engine event metadata key of an annotation (``yaml2dag annotate``: who said what, when).
ANNOTATION_MARKER = "yaml2dag/annotation"
#: Engine event metadata key of a process group a step started, and its details.
PROCESS_MARKER = "yaml2dag/step_process"
PROCESS_PID = "yaml2dag/pid"
PROCESS_PGID = "yaml2dag/pgid"
PROCESS_STARTED = "yaml2dag/started"
PROCESS_HOST = "yaml2dag/host"
#: Engine event metadata key of a run failed because its process died.
DEAD_MARKER = "yaml2dag/dead_run"

# --------------------------------------------------------------------------- run storage keys

#: Prefix of the run storage keys (Dagster's key-value store) the Celery executor uses.
CELERY_KEY_PREFIX = "yaml2dag/celery/"
#: Prefix of the key-value store entries holding a finished run's step outcomes (followed by the
#: run id; yaml2dag.runs.history.outcome_cache).
OUTCOMES_KEY_PREFIX = "yaml2dag/step_outcomes/"


def all_keys() -> dict[str, str]:
    """Every constant of this module whose value is a key: name → key."""
    return {name: value for name, value in globals().items()
            if name.isupper() and isinstance(value, str) and value.startswith(PREFIX) and name != "PREFIX"}
