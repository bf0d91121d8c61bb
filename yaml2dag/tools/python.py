"""The ``python`` tool: call ``package.module:function`` with rendered arguments (spec §6).

What the function prints goes to the Dagster event log, line by line, secrets masked.
``args`` and ``kwargs`` keep their native types (a whole-value template such as
``"{{ load.output }}"`` passes the DataFrame itself). The folder of the workflow file is put on
``sys.path`` while importing, so helper modules can live next to the workflow files (like
Airflow's DAGs folder). The return value is the step's ``output``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from typing import Any

from yaml2dag.tools.base import Action, Tool, ToolContext, ToolError, ToolResult
from yaml2dag.tools.capture import capture_output

_import_lock = threading.Lock()

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["callable"],
    "properties": {
        "callable": {
            "type": "string",
            "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$|\{\{",
            "description": "package.module:function",
            "x-expected": "a callable path such as `package.module:function`",
        },
        "args": {"type": "array", "description": "Positional arguments."},
        "kwargs": {"type": "object", "description": "Keyword arguments."},
    },
}


def resolve_callable(path: str, search_path: str | None = None) -> Any:
    """Import ``module:attr.attr`` and return the object.

    Args:
        path: ``package.module:function`` (attributes may be dotted: ``module:Class.method``).
        search_path: a folder tried first when importing (the workflow's folder).

    Raises:
        ToolError: the module or attribute does not exist, or is not callable.
    """
    module_name, sep, attr_path = path.partition(":")
    if not sep or not module_name or not attr_path:
        raise ToolError(f"callable {path!r} must look like `package.module:function`", retryable=False)
    with _import_lock:
        added = False
        if search_path and search_path not in sys.path:
            sys.path.insert(0, search_path)
            added = True
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise ToolError(f"cannot import module {module_name!r} for callable {path!r}: {exc}", retryable=False) from None
        except Exception as exc:  # noqa: BLE001 - import errors of user code
            raise ToolError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}", retryable=False) from None
        finally:
            if added:
                try:
                    sys.path.remove(search_path)
                except ValueError:
                    pass
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ToolError(f"module {module_name!r} has no attribute {attr_path!r}", retryable=False) from None
    if not callable(obj):
        raise ToolError(f"{path!r} is not callable", retryable=False)
    return obj


def call(ctx: ToolContext, params: dict) -> ToolResult:
    """Import and call; exceptions become a step failure with the exception's message."""
    fn = resolve_callable(str(params["callable"]), ctx.workflow_dir)
    args = params.get("args") or []
    kwargs = params.get("kwargs") or {}
    if not isinstance(args, list):
        raise ToolError(f"`args` must render to a list, got {type(args).__name__}", retryable=False)
    if not isinstance(kwargs, dict):
        raise ToolError(f"`kwargs` must render to a mapping, got {type(kwargs).__name__}", retryable=False)
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise ToolError(f"cannot call {params['callable']}: {exc}", retryable=False) from None
    except ValueError:
        pass  # builtins without a signature

    try:
        with capture_output(ctx.log.info):
            value = fn(*args, **kwargs)
    except ToolError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: report type and message
        raise ToolError(f"{params['callable']} raised {type(exc).__name__}: {exc}") from exc
    return ToolResult(output=value)


TOOL = Tool(
    name="python",
    description="Call a Python function.",
    actions=(
        Action(
            name="call",
            description="Import `callable` and call it with `args` and `kwargs`.",
            parameters=PARAMETERS,
            run=call,
            output="the return value",
        ),
    ),
)
