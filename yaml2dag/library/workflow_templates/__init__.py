"""The built-in workflow templates shipped with yaml2dag (issue #4, "Templates").

Each template is a complete, valid workflow file in this package folder. ``yaml2dag templates``
lists them; ``yaml2dag create NAME --from-template "Backup Files" [key=value ...]`` writes a copy
into the definitions folder with the new name and the given parameter defaults
(:func:`instantiate`). Copies keep the template's comments and key order (ruamel.yaml
round-trip).
"""

from __future__ import annotations

import io
from pathlib import Path
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping

from yaml2dag.format.errors import ParameterError, WorkflowNotFoundError
from yaml2dag.format.model import Parameter, Workflow, slugify
from ruamel.yaml import YAML
from yaml2dag.format.parameters import check_value, coerce
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.validation import validate_file, validate_text


@dataclass(frozen=True)
class TemplateInfo:
    """One built-in template.

    Attributes:
        name: the template's workflow name ("Backup Files").
        file: its file name in the package.
        description: the workflow's description.
        tags: its tags.
        parameters: its parameter declarations.
    """

    name: str
    file: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    workflow: Workflow | None = None


def _files() -> list[Any]:
    folder = resources.files(__package__)
    return sorted((f for f in folder.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)


def list_templates() -> list[TemplateInfo]:
    """Every built-in template, sorted by file name."""
    out = []
    for entry in _files():
        report = validate_text(entry.read_text(encoding="utf-8"), entry.name)
        wf = report.workflow
        if wf is None:
            continue
        out.append(TemplateInfo(wf.name, entry.name, wf.description, wf.tags, wf.parameters, wf))
    return out


def find_template(name: str) -> TemplateInfo:
    """The template called ``name`` (case-insensitive name, slug or file stem).

    Raises:
        WorkflowNotFoundError: no template has that name; the message lists them.
    """
    wanted = name.casefold()
    templates = list_templates()
    for info in templates:
        if wanted in (info.name.casefold(), slugify(info.name), info.file.rsplit(".", 1)[0].casefold()):
            return info

    names = [t.name for t in templates]
    raise WorkflowNotFoundError(f"no template named {name!r}{did_you_mean(name, names)} "
                                f"(templates: {', '.join(repr(n) for n in names)})")


def template_text(name: str) -> str:
    """The YAML text of a template."""
    info = find_template(name)
    return resources.files(__package__).joinpath(info.file).read_text(encoding="utf-8")


def template_report(name: str) -> Any:
    """A template validated from its file in this package, ready to run as it is
    (``yaml2dag run "Backup Files" ...`` when no workflow of the library has that name).

    Args:
        name: the template's name, job id or file stem (as :func:`find_template`).

    Returns:
        The :class:`~yaml2dag.format.validation_report.FileReport` whose ``file`` is the
        template's absolute path (Dagster reconstructs the job from it in each step process).

    Raises:
        WorkflowNotFoundError: no template has that name; the message lists them.
    """
    info = find_template(name)
    with resources.as_file(resources.files(__package__).joinpath(info.file)) as path:
        return validate_file(Path(path).absolute())


def instantiate(name: str, new_name: str | None = None, values: Mapping[str, str] | None = None) -> str:
    """A copy of a template as YAML text, renamed and with new parameter defaults.

    Args:
        name: the template.
        new_name: the workflow name of the copy (default: the template's name). Any explicit
            ``id`` of the template is dropped so the job id follows the new name.
        values: parameter defaults as command-line strings (``key=value`` values), converted to
            each parameter's declared type.

    Returns:
        The YAML text, with the template's comments kept.

    Raises:
        WorkflowNotFoundError: unknown template.
        ParameterError: unknown parameter, a secret, or a value of the wrong type.
    """
    info = find_template(name)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(template_text(info.name))
    if new_name:
        data["name"] = new_name
        if "id" in data:
            del data["id"]
    declared = {p.name: p for p in info.parameters}
    for key, raw in (values or {}).items():
        param = declared.get(key)
        if param is None:
            raise ParameterError(key, f"not a parameter of the template {info.name!r}"
                                 + did_you_mean(key, declared) + f" (parameters: {', '.join(declared) or 'none'})")
        if param.is_secret:
            raise ParameterError(key, f"is a secret: set the environment variable {param.env_var} at run time")
        value = check_value(param, coerce(param, raw) if isinstance(raw, str) else raw)
        spec = data["parameters"][key]
        if hasattr(spec, "keys"):
            spec["default"] = value
        else:
            data["parameters"][key] = value
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
