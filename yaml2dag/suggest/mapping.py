"""Commands → workflow steps: a built-in tool where one does the job, else ``shell`` (issue 12).

Mappings (each only when the command uses options the tool reproduces; anything else stays a
``shell`` step, which runs the command as it was typed):

* ``git pull [REMOTE [BRANCH]]`` (``--ff-only``, ``--no-rebase``), ``git checkout REF`` /
  ``git checkout -b NAME [START]`` / ``git switch [-c] REF``, ``git clone URL [DIR]``
  (``--depth``, ``-b``) → the ``git`` tool;
* ``curl URL`` with ``-X``, ``-H``, ``-d``/``--data``/``--data-raw`` and the quiet/fail/follow
  flags (``-s -S -f -L``) → ``http request``;
* ``tar czf ARCHIVE.tar.gz FOLDER`` and ``zip -r ARCHIVE.zip FOLDER`` → ``files backup`` (the tool
  names archives ``NAME-YYYYMMDD-HHMMSS``, so a date in the typed name becomes the tool's stamp);
* ``cp [-rRafpv] SRC DST``, ``mv SRC DST``, ``rsync -a SRC DST`` (local paths, ``SRC`` without a
  trailing ``/``: rsync's "contents of" form has no equal in ``files copy``) → ``files copy``
  / ``files move`` (``overwrite: true``, as ``cp`` and ``rsync`` overwrite).

Every proposed tool step is checked against the action's parameter schema (the one the
validator uses) with the parameters' defaults put in; a step that does not fit falls back to
``shell``. Context commands (``cd``, ``export``, ``source``) are not steps: they give the
following steps their working folder (``cwd``, the ``git`` tool's ``directory``, the base of
relative ``files`` paths), environment variables and a prefix (``source venv/bin/activate &&``).

Nothing here imports Dagster.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field

from yaml2dag.format.schema import fast_valid
from yaml2dag.tools.registry import get_tool
from yaml2dag.suggest.commands import COMPOUND, INTERPRETERS
from yaml2dag.suggest.generalize import GenCommand, Text

_CURL_QUIET = re.compile(r"-[sSfL]+")
_CURL_FLAGS = frozenset({"--silent", "--show-error", "--fail", "--location", "--compressed", "--fail-with-body"})
_CP_FLAGS = re.compile(r"-[rRafpvn]+")
_MV_FLAGS = re.compile(r"-[fvn]+")
_RSYNC_FLAGS = re.compile(r"-[avzrhPtpogDlu]+")
_RSYNC_LONG = frozenset({"--progress", "--archive", "--verbose", "--compress", "--human-readable", "--recursive"})
_TAR_CREATE = re.compile(r"-?(?=[cvzf]*c)(?=[cvzf]*z)[cvz]*f")
_ARCHIVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ASSIGNMENT_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Context:
    """What earlier context commands set up for the next steps.

    Attributes:
        cwd: the working folder (template and sample), or None (where the run starts).
        env: environment variables for ``shell`` steps.
        prefix: shell commands run before each ``shell`` command (``source venv/bin/activate``).
        shell_only: the folder is only known to the shell (``cd $HOME/x``): tools cannot be
            used, the ``cd`` is part of the prefix.
    """

    cwd: Text | None = None
    env: dict[str, Text] = field(default_factory=dict)
    prefix: list[Text] = field(default_factory=list)
    shell_only: bool = False


@dataclass
class StepDraft:
    """A step before it gets its id: ``tool``, ``action``, ``parameters`` (templates), the same
    with samples (to check against the schema), and a ``label`` for names."""

    tool: str
    action: str | None
    parameters: dict
    samples: dict
    label: str


def _fits(tool: str, action: str, samples: dict) -> bool:
    found = get_tool(tool)
    spec = found.action(action) if found is not None else None
    if spec is None:
        return False
    return fast_valid(json.dumps(spec.parameters, sort_keys=True), samples)


def _join(base: Text | None, path: Text) -> Text:
    """``path`` relative to the context's folder (absolute and ``~`` paths as they are)."""
    if base is None or path.s.startswith(("/", "~")):
        return path
    return base + "/" + path if not base.s.endswith("/") else base + path


def apply_context(gen: GenCommand, ctx: Context) -> bool:
    """Fold a context command (``cd``, ``export``, assignments, ``source``) into ``ctx``.

    Returns:
        True when ``gen`` was a context command (it makes no step).
    """
    cmd = gen.command
    if cmd.kind != "context":
        return False
    start = cmd.program_index + 1 if cmd.program is not None else 0
    if cmd.base in ("cd", "pushd"):
        if start < len(cmd.parts) and start in cmd.raw_words:
            ctx.prefix.append(gen.shell())  # `cd $PROJECT`: only the shell knows where that is
            ctx.shell_only = True
        elif not ctx.shell_only:
            ctx.cwd = _join(ctx.cwd, gen.word(start)) if start < len(cmd.parts) else Text.plain("~")
        else:
            ctx.prefix.append(gen.shell())
        return True
    if cmd.base in ("source", "."):
        ctx.prefix.append(gen.shell())
        return True
    for index in range(start, len(cmd.parts)):
        if index in cmd.raw_words:
            ctx.prefix.append(gen.shell())  # `export PATH=$PATH:...`: the shell must expand it
            return True
    for index in range(start, len(cmd.parts)):
        ctx.env[cmd.parts[index][0][0].rstrip("=")] = gen.word(index, 1)
    return True


def _shell_cwd(cwd: Text) -> Text:
    """A working folder for the ``shell`` tool, which does not expand ``~``."""
    if cwd.t == "~" or cwd.t.startswith("~/"):
        return Text("{{ env.HOME }}" + cwd.t[1:], "/home/user" + cwd.s[1:], True)
    return cwd


def shell_step(gen: GenCommand, ctx: Context) -> StepDraft:
    """The command as a ``shell`` step: its own leading assignments and the context's
    variables as ``env``, the context's folder as ``cwd``, its prefix before the command."""
    cmd = gen.command
    env: dict[str, Text] = dict(ctx.env)
    start = _leading_assignments(cmd)
    for index in range(start):
        env[cmd.parts[index][0][0][:-1]] = gen.word(index, 1)
    command = gen.shell(start)
    for prefix in reversed(ctx.prefix):
        command = prefix + " && " + command
    params: dict = {"command": command.t}
    samples: dict = {"command": command.s}
    if ctx.cwd is not None:
        cwd = _shell_cwd(ctx.cwd)
        params["cwd"], samples["cwd"] = cwd.t, cwd.s
    if env:
        params["env"] = {k: v.t for k, v in env.items()}
        samples["env"] = {k: v.s for k, v in env.items()}
    return StepDraft("shell", None, params, samples, label(gen))


def _leading_assignments(cmd) -> int:
    """How many words at the start of a command are plain assignments (``A=1 B=x cmd``)."""
    count = 0
    for index, word in enumerate(cmd.words):
        if index == cmd.program_index or word.op or index in cmd.raw_words \
                or not _ASSIGNMENT_PART.fullmatch(cmd.parts[index][0][0]):
            break
        count += 1
    return count


def label(gen: GenCommand) -> str:
    """A short name for a command: program and subcommand (``git pull``, ``make test``,
    ``deploy.sh``), ``shell script`` for a compound command."""
    cmd = gen.command
    if cmd.program is None or cmd.program in COMPOUND:
        return "shell script"
    if cmd.base in INTERPRETERS and not cmd.opaque:
        script = next((w.value for w in cmd.words[cmd.program_index + 1:]
                       if w.value and not w.op and not w.value.startswith("-")), "")
        return f"{cmd.base} {script.rsplit('/', 1)[-1]}".strip()
    return " ".join(w for w in (cmd.base, (cmd.subcommand or "").split(" ")[0]) if w)


def _args(gen: GenCommand) -> list[int] | None:
    """Word indexes after the program (and its subcommand), or None when the command cannot
    become a tool step (opaque, pipes or redirections, assignments, ``sudo``)."""
    cmd = gen.command
    if cmd.opaque or cmd.has_operators or cmd.program_index != 0 or cmd.program != cmd.base:
        return None
    skip = 1 + len((cmd.subcommand or "").split()) if cmd.subcommand else 1
    return list(range(skip, len(cmd.parts)))


def _literal(gen: GenCommand, index: int) -> str | None:
    """Word ``index`` when nothing in it varies, else None."""
    return None if gen.has_params(index) else gen.word(index).s


def _draft(tool: str, action: str, params: dict[str, object], label: str) -> StepDraft | None:
    templates = {k: (v.t if isinstance(v, Text) else v) for k, v in params.items() if v is not None}
    samples = {k: (v.s if isinstance(v, Text) else v) for k, v in params.items() if v is not None}
    for key, value in params.items():
        if isinstance(value, dict):
            templates[key] = {k: v.t for k, v in value.items()}
            samples[key] = {k: v.s for k, v in value.items()}
    if not _fits(tool, action, samples):
        return None
    return StepDraft(tool, action, templates, samples, label)


def _git(gen: GenCommand, ctx: Context) -> StepDraft | None:
    args = _args(gen)
    if args is None:
        return None
    cmd = gen.command
    directory = ctx.cwd if ctx.cwd is not None else Text.plain(".")
    flags = [_literal(gen, i) for i in args if (cmd.parts[i][0][0].startswith("-") and cmd.parts[i][0][1] == "lit")]
    values = [i for i in args if not (cmd.parts[i][0][0].startswith("-") and cmd.parts[i][0][1] == "lit")]
    if any(i in cmd.raw_words for i in values):
        return None
    sub = cmd.subcommand
    if sub == "pull":
        if any(f not in ("--ff-only", "--no-rebase") for f in flags) or len(values) > 2:
            return None
        params = {"directory": directory, "remote": gen.word(values[0]) if values else None,
                  "branch": gen.word(values[1]) if len(values) > 1 else None}
        if "--no-rebase" in flags:
            params["ff_only"] = False
        return _draft("git", "pull", params, "git pull")
    if sub in ("checkout", "switch"):
        create = [f for f in flags if f in ("-b", "-c")]
        if len(create) != len(flags) or len(create) > 1 or not values or len(values) > (2 if create else 1):
            return None
        params = {"directory": directory, "ref": gen.word(values[0])}
        if create:
            params["create"] = True
            params["start_point"] = gen.word(values[1]) if len(values) > 1 else None
        return _draft("git", "checkout", params, f"git {sub}")
    if sub == "clone":
        depth = branch = None
        positional = []
        i = 0
        while i < len(args):
            index = args[i]
            text = cmd.parts[index][0][0]
            if text in ("--depth", "-b", "--branch") and i + 1 < len(args):
                if text == "--depth":
                    depth = _literal(gen, args[i + 1])
                    if depth is None or not depth.isdigit():
                        return None
                else:
                    branch = gen.word(args[i + 1])
                i += 2
                continue
            if text.startswith("-") and cmd.parts[index][0][1] == "lit":
                return None
            positional.append(index)
            i += 1
        if not positional or len(positional) > 2:
            return None
        url = gen.word(positional[0])
        if len(positional) > 1:
            target = gen.word(positional[1])
        elif url.literal:
            name = posixpath.basename(url.s.rstrip("/").split(":")[-1])
            name = name[:-4] if name.endswith(".git") else name
            if not name:
                return None
            target = Text.plain(name)
        else:
            return None  # git names the folder after the URL, which a template cannot do
        params = {"url": url, "directory": _join(ctx.cwd, target), "branch": branch,
                  "depth": int(depth) if depth else None}
        return _draft("git", "clone", params, "git clone")
    return None


def _curl(gen: GenCommand, ctx: Context) -> StepDraft | None:
    args = _args(gen)
    if args is None:
        return None
    cmd = gen.command
    method: Text | None = None
    headers: dict[str, Text] = {}
    body: Text | None = None
    urls: list[Text] = []
    i = 0
    while i < len(args):
        index = args[i]
        first = cmd.parts[index][0]
        text = first[0]
        if index in cmd.raw_words:
            return None
        if first[1] == "lit" and text.startswith("-"):
            if _CURL_QUIET.fullmatch(text) or text in _CURL_FLAGS:
                i += 1
                continue
            if text in ("-X", "--request", "-H", "--header", "-d", "--data", "--data-raw") and i + 1 < len(args):
                value = gen.word(args[i + 1])
                if text in ("-X", "--request"):
                    method = value
                elif text in ("-H", "--header"):
                    name, sep, rest = value.t.partition(":")
                    _, _, srest = value.s.partition(":")
                    if not sep or "{{" in name or not name.strip():
                        return None
                    headers[name.strip()] = Text(rest.strip(), srest.strip(), value.p)
                else:
                    if value.s.startswith("@"):
                        return None  # a body read from a file
                    body = value
                    method = method or Text.plain("POST")
                i += 2
                continue
            return None
        urls.append(gen.word(index))
        i += 1
    if len(urls) != 1:
        return None
    params: dict[str, object] = {"url": urls[0]}
    if method is not None and method.s.upper() != "GET":
        params["method"] = method
    if headers:
        params["headers"] = headers
    if body is not None:
        params["body"] = body
    verb = method.s.upper() if method is not None and method.literal else "GET"
    return _draft("http", "request", params, f"http {verb.lower()}")


def _backup(gen: GenCommand, ctx: Context, archive_index: int, source_index: int, fmt: str) -> StepDraft | None:
    cmd = gen.command
    suffixes = (".tar.gz", ".tgz") if fmt == "tar.gz" else (".zip",)
    archive = gen.word(archive_index)
    if archive.literal:
        paths = [archive.s]
    else:
        bound = [gen.bindings.get((archive_index, p)) for p in range(len(cmd.parts[archive_index]))]
        if len(bound) != 1 or not hasattr(bound[0], "values") or bound[0].type == "secret":
            return None
        paths = [str(v) for v in bound[0].values]
    if not all(p.endswith(suffixes) for p in paths):
        return None
    folders = {posixpath.dirname(p) for p in paths}
    if len(folders) != 1:
        return None
    names = [posixpath.basename(p) for p in paths]
    stem = names[0] if len(names) == 1 else posixpath.commonprefix(names)
    for suffix in suffixes:
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    if len(set(names)) > 1:
        stem = re.sub(r"[-_.]*[0-9][0-9._-]*$", "", stem)  # the varying date or counter: the tool stamps its own
    stem = stem.rstrip("-_.")
    if not _ARCHIVE_NAME.fullmatch(stem or "-"):
        return None
    folder = folders.pop() or "."
    params = {"source": _join(ctx.cwd, gen.word(source_index)), "target": _join(ctx.cwd, Text.plain(folder)),
              "name": stem, "format": fmt}
    return _draft("files", "backup", params, f"backup {stem}")


def _tar(gen: GenCommand, ctx: Context) -> StepDraft | None:
    args = _args(gen)
    if args is None or len(args) != 3 or not _TAR_CREATE.fullmatch(gen.command.parts[args[0]][0][0]):
        return None
    return _backup(gen, ctx, args[1], args[2], "tar.gz")


def _zip(gen: GenCommand, ctx: Context) -> StepDraft | None:
    args = _args(gen)
    if args is None or len(args) != 3 or _literal(gen, args[0]) not in ("-r", "-rq", "-qr"):
        return None
    return _backup(gen, ctx, args[1], args[2], "zip")


def _transfer(gen: GenCommand, ctx: Context) -> StepDraft | None:
    args = _args(gen)
    if args is None:
        return None
    cmd = gen.command
    base = cmd.base
    flags = [cmd.parts[i][0][0] for i in args if cmd.parts[i][0][1] == "lit" and cmd.parts[i][0][0].startswith("-")]
    operands = [i for i in args if not (cmd.parts[i][0][1] == "lit" and cmd.parts[i][0][0].startswith("-"))]
    pattern = {"cp": _CP_FLAGS, "mv": _MV_FLAGS, "rsync": _RSYNC_FLAGS}[base]
    if len(operands) != 2 or any(not (pattern.fullmatch(f) or (base == "rsync" and f in _RSYNC_LONG)) for f in flags):
        return None
    if any(i in cmd.raw_words and not cmd.words[i].glob for i in operands):
        return None
    source, destination = (gen.word(i) if i not in cmd.raw_words else Text.plain(cmd.words[i].value) for i in operands)
    if base == "rsync":
        if any(re.match(r"[^/]*:", t.s) for t in (source, destination)) or source.s.endswith("/"):
            return None  # a remote host, or rsync's "contents of the folder" form
        destination = destination if destination.s.endswith("/") else destination + "/"
    params = {"source": _join(ctx.cwd, source), "destination": _join(ctx.cwd, destination),
              "overwrite": not any("n" in f for f in flags if not f.startswith("--"))}
    action = "move" if base == "mv" else "copy"
    return _draft("files", action, params, f"{action} files")


#: Program → mapper (returns None when the command does not fit the tool).
MAPPERS = {"git": _git, "curl": _curl, "tar": _tar, "zip": _zip, "cp": _transfer, "mv": _transfer,
           "rsync": _transfer}


def step_for(gen: GenCommand, ctx: Context, *, tools: bool = True) -> StepDraft:
    """The step for a work command: a built-in tool when one fits (and ``tools``), else shell."""
    mapper = MAPPERS.get(gen.command.base) if tools and not ctx.shell_only else None
    if mapper is not None and gen.command.program == gen.command.base:
        draft = mapper(gen, ctx)
        if draft is not None:
            return draft
    return shell_step(gen, ctx)


__all__ = ["Context", "MAPPERS", "StepDraft", "apply_context", "label", "shell_step", "step_for"]
