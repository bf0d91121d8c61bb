# ruff: noqa
# type: ignore
"""Names `vulture yaml2dag --min-confidence 60` reports as unused that are used, by a framework,
a configuration file, the public API, the tests or the documentation (tests/unit/test_dead_code.py).

Each entry says who uses it. Not Python to run: vulture only reads the names.
"""

_ = object()

# --- module-level __getattr__/__dir__ (PEP 562): lazy public names and lazy Dagster internals
__dir__  # yaml2dag/__init__.py
__getattr__  # yaml2dag/__init__.py, yaml2dag/dagster_internals.py

# --- the public API (README, docs/api)
load_workflow  # yaml2dag/api.py, re-exported by yaml2dag

# --- click: commands registered with @group.command / add_command, and overridden methods
approve  # yaml2dag/cli/approve.py
reject  # yaml2dag/cli/approve.py
annotate  # yaml2dag/cli/annotate.py
list_  # yaml2dag/cli/catalog.py (`yaml2dag list`)
show  # yaml2dag/cli/catalog.py
dev  # yaml2dag/cli/dev.py
logs  # yaml2dag/cli/observe.py
_.format_commands  # yaml2dag/cli/__init__.py: click.Group.format_commands
Cell  # yaml2dag/cli/output.py: documents the shape of a table cell

# --- Dagster: named in dagster_home/dagster.yaml and yaml2dag/deploy/dagster.yaml, called by Dagster
WorkflowRunCoordinator  # yaml2dag/runs/run_coordinator.py
WorkflowRunLauncher  # yaml2dag/runs/run_launcher.py
_.supports_check_run_worker_health  # RunLauncher interface
_.check_run_worker_health  # RunLauncher interface
_.scaffold  # yaml2dag/component.py: dg Component interface
_.get_spec  # yaml2dag/component.py: dg Component interface
_.build_defs  # yaml2dag/component.py: dg Component interface

# --- Celery, Jinja, watchdog, ruamel.yaml, zipfile, html.parser, io, logging: attributes and hooks they read
_.worker_redirect_stdouts  # yaml2dag/compiler/celery_app.py: Celery setting
intercepted_binops  # yaml2dag/format/expression_sandbox.py: jinja2.sandbox.SandboxedEnvironment
intercepted_unops  # same
code_generator_class  # same: jinja2.Environment
_.concat  # same: jinja2.Environment.concat
_.visit_Concat  # yaml2dag/format/expression_runtime_bounds.py: jinja2 NodeVisitor
break_long_words  # yaml2dag/format/expression_runtime_bounds.py: Jinja's `wordwrap` signature
_.on_any_event  # yaml2dag/library/reloader.py: watchdog FileSystemEventHandler
_.preserve_quotes  # yaml2dag/library/roundtrip.py, workflow_templates: ruamel.yaml.YAML setting
_.create_system  # yaml2dag/tools/files/archive.py: zipfile.ZipInfo
_.external_attr  # same
_.compress_type  # same
_.handle_starttag  # yaml2dag/tools/mail/html_text.py: html.parser.HTMLParser
_.handle_startendtag  # same
_.handle_endtag  # same
_.handle_data  # same
_.writable  # yaml2dag/tools/capture.py: io.TextIOBase
_.exc_text  # yaml2dag/format/masking_registry.py: logging.LogRecord
_.popitem  # yaml2dag/format/frozen.py: dict methods overridden to refuse changes

# --- read by tests, scripts or documented commands
NAMESPACES  # yaml2dag/format/expression_sandbox.py: re-exported by expressions, tests/unit/test_reference.py
STEP_STATUSES  # yaml2dag/runs/tracking.py: CLI JSON contract, tests/integration/test_cli_everyday.py
LIVE_STATUSES  # same
_.is_error  # yaml2dag/format/errors.py: Problem.is_error, used by tool tests
_.delay_for  # yaml2dag/format/model.py: RetryConfig.delay_for, tests/unit/test_model.py
_.ancestors  # yaml2dag/format/plan.py: Plan.ancestors, tests/unit/test_plan.py
document_blocks  # yaml2dag/reference.py: tests/unit/test_reference.py
update_document  # yaml2dag/reference.py: scripts/update_reference.py
write_compiled_validator  # yaml2dag/format/schema: the documented regeneration command
evidence  # yaml2dag/suggest/report.py: dataclass field, set by suggest/schedules.py
_.reloads  # yaml2dag/library/reloader.py: documented counter (tests and status lines)
all_keys  # yaml2dag/format/tags.py: tests/unit/test_tags.py (every key unique, none spelled out elsewhere)
_.use_24hour_time_format  # yaml2dag/format/cron.py: an option read by cron_descriptor.ExpressionDescriptor
