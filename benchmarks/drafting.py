"""Drafting from a sentence (issue 12 section 3): the share of requests understood, and the share of
drafts that validate and run.

Usage: python benchmarks/drafting.py [--requests FILE] [--no-run] [--keep]

Method
------
1. **Understood**: each request of tests/data/drafting_requests.yaml is drafted with the phrase
   grammar (``yaml2dag.library.drafting.draft``, what ``yaml2dag create --describe`` uses without a
   model); a request is understood when every phrase is (none unknown, none refused).
2. **Valid**: every draft is written to a sandbox ``definitions/`` folder and checked with the
   real CLI, ``yaml2dag validate definitions --format json``.
3. **Runs**: every draft is run for real with ``yaml2dag run NAME key=value ... --format json``
   (exit 0 counts) from the sandbox folder, on a temporary DAGSTER_HOME, against things that are
   safe to touch:

   * a git repository (a bare "upstream" and a clone with passing tests in ``tests/unit`` and
     ``tests/integration``, ``deploy.sh``,
     ``rollback.sh``, a ``Makefile`` and an empty ``requirements.txt``), so pulls, clones, tests,
     builds and deploys run the drafted commands for real inside the sandbox;
   * a local HTTP server for every URL (tables for ``.csv``/``.json`` paths, 200 for the rest,
     webhooks recorded), a local SMTP server (aiosmtpd) for e-mail, and an OpenAI-compatible
     stub for the model;
   * sandbox folders for backups and clean-ups, and a table with the columns the requests name;
   * the folder the runs start in holds the same project files, for drafts that name no
     repository (their shell steps run there);
   * stand-ins on PATH for what is not installed, would take minutes or would reach outside:
     ``sleep`` (waits return at once), ``docker`` (no daemon is touched) and, when missing,
     ``ruff`` (they print what they were asked);
     ``smoke_test_command`` (which the sentences never say) is ``echo smoke``.

   Values are given by **parameter name**, the same for every draft (:data:`VALUES`); a draft
   is never edited. An approval gate that waits is approved with ``yaml2dag approve``. Drafts
   that read mail over IMAP are not run (no IMAP server here) and counted as not run.

Every temporary folder is removed at the end (unless ``--keep``); servers are stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from yaml2dag.library.drafting import draft  # noqa: E402
from yaml2dag.format.model import slugify  # noqa: E402

RUN_TIMEOUT = 300
TABLE = ("category,price,region,sales,quantity,status,customer,score,类别,价格,地区,销售额,数量,状态,客户,分数\n"
         + "".join(f"{c},{p},{r},{s},{q},{st},{cu},{sc},{c},{p},{r},{s},{q},{st},{cu},{sc}\n" for c, p, r, s, q, st, cu, sc in [
             ("book", 12.5, "EU", 100, 12, "paid", "ann", 0.7), ("pen", 1.5, "US", 20, 3, "open", "bob", 0.2),
             ("book", 20.0, "US", 250, 15, "paid", "ann", 0.9), ("lamp", 35.0, "EU", 70, 11, "paid", "cy", 0.5)]))


class _Handler(BaseHTTPRequestHandler):
    """GET: a table for .csv/.json paths, "ok" otherwise. POST: 200 (webhooks, the model stub)."""

    def log_message(self, *args):  # noqa: D102 - quiet
        pass

    def _send(self, status: int, body: str, kind: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        if path.endswith(".csv"):
            return self._send(200, TABLE, "text/csv")
        if path.endswith(".json"):
            lines = TABLE.splitlines()
            head = lines[0].split(",")
            return self._send(200, json.dumps([dict(zip(head, line.split(","))) for line in lines[1:]]), "application/json")
        return self._send(200, "ok", "text/plain")

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts += 1
        if self.path.endswith("/chat/completions"):
            return self._send(200, json.dumps({"choices": [{"message": {"role": "assistant", "content": "digest"}}]}),
                              "application/json")
        return self._send(200, json.dumps({"ok": True}), "application/json")


def sh(*argv: str, cwd: Path, env: dict | None = None) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=120)


def make_sandbox(root: Path) -> dict:
    """The sandbox (see the module docstring); returns paths by name."""
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.test",
               "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.test"}
    upstream, work = root / "upstream.git", root / "work"
    sh("git", "init", "--bare", "-q", str(upstream), cwd=root)
    sh("git", "clone", "-q", str(upstream), str(work), cwd=root)
    for kind in ("unit", "integration"):  # "run the unit tests" runs tests/unit
        (work / "tests" / kind).mkdir(parents=True)
        (work / "tests" / kind / f"test_{kind}_ok.py").write_text("def test_ok():\n    assert True\n")
    # pytest collects the project's tests only (not the clones the runs make next to them)
    (work / "pytest.ini").write_text("[pytest]\ntestpaths = tests\naddopts = -p no:cacheprovider\n")
    (work / "requirements.txt").write_text("")
    (work / "Makefile").write_text("build:\n\t@echo built\n")
    for script in ("deploy.sh", "rollback.sh"):
        (work / script).write_text(f"#!/bin/sh\necho {script} \"$@\"\n")
        (work / script).chmod(0o755)
    sh("git", "add", ".", cwd=work, env=git_env)
    sh("git", "commit", "-qm", "sandbox", cwd=work, env=git_env)
    sh("git", "push", "-q", "origin", "HEAD", cwd=work, env=git_env)
    repo = root / "repo"
    sh("git", "clone", "-q", str(upstream), str(repo), cwd=root)
    data = root / "data"
    data.mkdir()
    (data / "table.csv").write_text(TABLE)
    (root / "orders.csv").write_text(TABLE)
    (root / "data.csv").write_text(TABLE)
    cache = root / "cache"
    cache.mkdir()
    (cache / "old.tmp").write_text("x")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    stubs = {"sleep": "exit 0", "docker": 'echo "docker (stand-in): $*"'}
    if shutil.which("ruff") is None:
        stubs["ruff"] = 'echo "ruff (stand-in): $*"'
    # the folder the runs start in is a project too (drafts without a repository run there)
    for name in ("tests", "pytest.ini", "requirements.txt", "Makefile", "deploy.sh", "rollback.sh"):
        source = repo / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / name)
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (root / "definitions").mkdir()
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {"upstream": upstream, "repo": repo, "data": data, "cache": cache, "bin": bin_dir, "home": home,
            "stubs": sorted(stubs)}


def values(data: dict, paths: dict, root: Path, base_url: str, rid: str) -> dict[str, str]:
    """Run values by parameter name (the same rule for every draft; see the module docstring)."""
    params = data.get("parameters", {})
    steps = data["steps"]
    out: dict[str, str] = {}
    for name, decl in params.items():
        default = decl.get("default")
        if name == "repo_dir":
            cloning = any(s["tool"] == "git" and s.get("action") == "clone" for s in steps)
            out[name] = str(root / "clones" / rid) if cloning else str(paths["repo"])
        elif name == "repo_url":
            out[name] = str(paths["upstream"])
        elif name == "repos":
            out[name] = json.dumps([str(paths["repo"])])
        elif name.endswith("webhook_url"):
            out[name] = f"{base_url}/hook/{name}"
        elif name in ("url", "csv_url", "data_url") or name.startswith(("url_", "csv_url_", "data_url_")):
            tail = str(default or "/health").rsplit("/", 1)[-1] or "health"
            out[name] = f"{base_url}/{tail}"
        elif name == "email_to":
            out[name] = "ops@example.com"
        elif name == "backup_source":
            out[name] = str(paths["data"])
        elif name == "backup_target":
            out[name] = str(root / "backups")
        elif name == "cleanup_path":
            out[name] = str(paths["cache"])
        elif name == "source" and default is None:
            out[name] = str(paths["data"] / "table.csv")
        elif name == "row_filter":
            out[name] = "price > 0"
        elif name == "group_column":
            out[name] = "category"
        elif name == "aggregations":
            out[name] = json.dumps({"price": "mean"})
        elif name == "smoke_test_command":
            out[name] = "echo smoke"
    return out


def runnable(data: dict) -> str | None:
    """Why a draft is not run, or None."""
    if any(s["tool"] == "email" and s.get("action") == "fetch" for s in data["steps"]):
        return "reads mail over IMAP (no IMAP server here)"
    return None


def run_one(name: str, assignments: dict, root: Path, env: dict, approve: bool) -> tuple[bool, str]:
    argv = [sys.executable, "-m", "yaml2dag", "run", name, *[f"{k}={v}" for k, v in assignments.items()], "--format", "json"]
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    if approve:
        threading.Thread(target=_approver, args=(name, root, env, proc), daemon=True).start()
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return False, "timed out"
    if proc.returncode != 0:
        lines = [line for line in (out + err).strip().splitlines() if line.strip()]
        return False, f"exit {proc.returncode}: " + " | ".join(lines[-3:])[:300]
    steps = json.loads(out).get("steps", {})
    return True, ", ".join(f"{k}={v}" for k, v in steps.items())


def _approver(name: str, root: Path, env: dict, proc: subprocess.Popen) -> None:
    """Approve the gate the run waits at (polls `yaml2dag history --status paused`)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-m", "yaml2dag", "history", name, "--status", "paused", "--format", "json"],
                              cwd=root, env=env, capture_output=True, text=True, timeout=120)
        runs = json.loads(done.stdout).get("runs", []) if done.returncode == 0 and done.stdout.strip() else []
        if runs:
            subprocess.run([sys.executable, "-m", "yaml2dag", "approve", runs[0]["run_id"], "--by", "alice"],
                           cwd=root, env=env, capture_output=True, timeout=120)
            return
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", default=str(REPO / "tests" / "data" / "drafting_requests.yaml"))
    parser.add_argument("--no-run", action="store_true", help="Only draft and validate.")
    parser.add_argument("--keep", action="store_true", help="Keep the sandbox folder.")
    parser.add_argument("--only", action="append", default=[], help="Only these request ids (repeatable).")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally below) when stopped
    requests = yaml.safe_load(Path(args.requests).read_text(encoding="utf-8"))["requests"]
    requests = [r for r in requests if not args.only or r["id"] in args.only]
    root = Path(tempfile.mkdtemp(prefix="y2d-drafting-"))
    smtp = server = None
    try:
        paths = make_sandbox(root)
        drafts = {}
        understood = {"en": 0, "zh": 0}
        for item in requests:
            d = draft(f"Bench {item['id']}", item["text"])
            ok = not d.unknown
            understood[item["lang"]] += ok
            drafts[item["id"]] = (item, d, ok)
            (root / "definitions" / f"{slugify(d.name)}.yaml").write_text(d.yaml_text(), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("YAML2DAG_")}
        env.update(DAGSTER_HOME=str(paths["home"]), NO_COLOR="1", PATH=f"{paths['bin']}{os.pathsep}{Path(sys.executable).parent}"
                   f"{os.pathsep}{os.environ.get('PATH', '')}")
        done = subprocess.run([sys.executable, "-m", "yaml2dag", "validate", "definitions", "--format", "json"],
                              cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        report = json.loads(done.stdout)
        invalid = {Path(e["file"]).stem for e in report.get("errors", [])}
        results = []
        if not args.no_run:
            from aiosmtpd.controller import Controller

            class Sink:
                async def handle_DATA(self, server, session, envelope):
                    return "250 OK"

            import socket

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                smtp_port = probe.getsockname()[1]
            smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port, ready_timeout=10)
            smtp.start()
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.posts = 0
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
            base_url = f"http://127.0.0.1:{server.server_address[1]}"
            env.update(YAML2DAG_SMTP_HOST="127.0.0.1", YAML2DAG_SMTP_PORT=str(smtp_port),
                       YAML2DAG_SMTP_FROM="bench@example.test", YAML2DAG_LLM_URL=base_url + "/v1")
        for rid, (item, d, ok) in drafts.items():
            valid = slugify(d.name) not in invalid
            ran, detail = None, ""
            if not args.no_run:
                reason = runnable(d.data)
                if reason:
                    detail = f"not run: {reason}"
                else:
                    assignments = values(d.data, paths, root, base_url, rid)
                    secrets = {k.upper(): v for k, v in assignments.items()
                               if d.data["parameters"].get(k, {}).get("type") == "secret"}
                    plain = {k: v for k, v in assignments.items() if k.upper() not in secrets}
                    approve = any(s["tool"] == "approval" for s in d.data["steps"])
                    ran, detail = run_one(d.name, plain, root, {**env, **secrets}, approve)
            results.append((rid, ok, valid, ran, detail))
            print(f"{rid:40} understood={'yes' if ok else 'NO ':3} valid={'yes' if valid else 'NO ':3} "
                  f"ran={'-' if ran is None else 'yes' if ran else 'NO'}  {detail}", flush=True)
        total = len(results)
        n_ok = sum(r[1] for r in results)
        n_valid = sum(r[2] for r in results)
        print(f"\nrequests: {total} ({sum(1 for r in requests if r['lang'] == 'en')} English, "
              f"{sum(1 for r in requests if r['lang'] == 'zh')} Chinese)")
        print(f"understood: {n_ok}/{total} = {100 * n_ok / total:.1f}% (English {understood['en']}, Chinese {understood['zh']})")
        print(f"valid drafts: {n_valid}/{total} = {100 * n_valid / total:.1f}%")
        if not args.no_run:
            n_ran = sum(1 for r in results if r[3])
            n_tried = sum(1 for r in results if r[3] is not None)
            both = sum(1 for r in results if r[2] and r[3])
            print(f"validate and run: {both}/{total} = {100 * both / total:.1f}% "
                  f"(runs tried {n_tried}, succeeded {n_ran}; not run: {total - n_tried})")
            print(f"stand-ins on PATH: {', '.join(paths['stubs'])}; webhook/model POSTs received: {server.posts}")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if smtp is not None:
            smtp.stop()
        if args.keep:
            print(f"sandbox kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
