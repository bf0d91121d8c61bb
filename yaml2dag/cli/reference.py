"""The CLI's part of the format reference, and the whole reference (issue 14, part 3).

:func:`cli_blocks` reads the ``yaml2dag`` commands (:data:`yaml2dag.cli.COMMANDS`) from their
click objects; :func:`all_blocks` and :func:`render` put them after the schema, tool and rule
tables of :mod:`yaml2dag.reference` (which sits below the CLI and does not import it). No Dagster
import: ``yaml2dag schema --markdown`` stays instant.
"""

from __future__ import annotations

import inspect

import click

from yaml2dag.cli import COMMANDS, HELP, main
from yaml2dag.reference import LANGS, _WORDS, _code, _table, rule_blocks, schema_blocks, tool_blocks, wrap


def _click_type(param) -> str:
    kind = param.type
    if getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", None):
        return "flag"
    if isinstance(kind, click.Choice):
        return " | ".join(f"`{c}`" for c in kind.choices)
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        base = "integer" if isinstance(kind, click.IntRange) else "number"
        parts = [base]
        if kind.min is not None:
            parts.append(f"minimum {kind.min}")
        if kind.max is not None:
            parts.append(f"maximum {kind.max}")
        return ", ".join(parts)
    names = {"integer": "integer", "float": "number", "text": "text", "boolean": "boolean",
             "path": "path", "filename": "file", "file": "file"}
    return names.get(kind.name, kind.name)


def _click_default(param, none: str) -> str:
    default = param.default
    if callable(default):
        return none
    if default is None or type(default).__name__ == "Sentinel" or (param.multiple and not default):
        if getattr(param, "is_flag", False) and not param.multiple:
            return "`false`"
        return none
    if isinstance(param, click.Option) and param.is_flag and param.secondary_opts:
        return f"`{param.opts[-1] if default else param.secondary_opts[-1]}`"
    return _code(default)


def cli_blocks(lang: str = "en") -> dict[str, str]:
    """``cli``: every ``yaml2dag`` command with its one-line help; ``cli.<command>``: its usage
    line and a table of its arguments and options (type, default, help)."""
    words = _WORDS[lang]
    ctx = click.Context(main, info_name="yaml2dag")
    names = main.list_commands(ctx)
    blocks = {"cli": _table([words["command"], words["what"]],
                            [[f"`yaml2dag {name}`", HELP.get(name, "")] for name in names])}
    header = [words["option"], words["type"], words["required"], words["default"], words["help"]]
    for name in names:
        command = main.get_command(ctx, name)
        sub = click.Context(command, info_name=name, parent=ctx)
        usage = " ".join(command.collect_usage_pieces(sub))
        rows = []
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if isinstance(param, click.Argument):
                label = f"`{param.make_metavar(sub) if _takes_ctx(param) else param.make_metavar()}`"
            else:
                label = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
            kind = _click_type(param)
            if param.multiple:
                kind += ", " + words["repeatable"]
            rows.append([label, kind, words["yes"] if param.required else "",
                         _click_default(param, words["none"]), getattr(param, "help", None) or ""])
        lines = [f"{words['usage']}`yaml2dag {name} {usage}`", "",
                 _table(header, rows) if rows else words["no_options"]]
        blocks[f"cli.{name}"] = "\n".join(lines)
    assert set(names) <= set(COMMANDS)
    return blocks


def _takes_ctx(param) -> bool:
    return "ctx" in inspect.signature(param.make_metavar).parameters


def all_blocks(lang: str = "en") -> dict[str, str]:
    """Every generated block of the reference, in document order: schema, tools, problem rules, CLI."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    return {**schema_blocks(lang), **tool_blocks(lang), **rule_blocks(lang), **cli_blocks(lang)}


def render(lang: str = "en") -> str:
    """All blocks, each between its markers (what ``yaml2dag schema --markdown`` prints)."""
    return "\n\n".join(wrap(name, body) for name, body in all_blocks(lang).items()) + "\n"


__all__ = ["all_blocks", "cli_blocks", "render"]
