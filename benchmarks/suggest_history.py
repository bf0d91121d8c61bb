"""`yaml2dag suggest` on a 100,000-line shell history (issue 12, §1: "read and mined in under 5 s").

Generates, with a fixed seed, a year of one person's shell history: 30 routines (1 to 6
commands with varying branches, hosts, paths and numbers, some with `&&`), a few hundred
one-off commands, looking around (`ls`, `cd`, `git status`, `clear`), typos, secrets
(`export API_TOKEN=...`, `curl -H 'Authorization: Bearer ...'`), multi-line commands and a few
lines of binary junk; written as 100,000 lines of zsh extended history, bash history with
`HISTTIMEFORMAT` timestamps, fish history and plain bash history (no timestamps: every line
mined). For each it times, in this process (median of 3):

* read — :func:`yaml2dag.suggest.histories.read_history`;
* read + mine — reading, the window, sessions and sequence mining;
* total — :func:`yaml2dag.suggest.suggest` (also generalizing, mapping to tools and
  validating every proposed workflow);

with the default 7-day window and with a window covering the whole year (every entry mined),
and once the real CLI (`yaml2dag suggest --format json --no-runs`) as a subprocess.

Usage: python benchmarks/suggest_history.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.timezone.utc)
SEED = 12

BRANCHES = ["main", "develop", "feature-login", "feature-cart", "fix-typo", "release-2.4", "hotfix-db"]
HOSTS = ["web1.example.com", "web2.example.com", "db.internal", "bastion.example.org"]
DIRS = ["~/src/shop", "~/src/api", "~/src/infra", "~/work/reports"]


def _routines(rng: random.Random) -> list:
    """30 routines: functions rng → list of command lines."""
    r = []
    r.append(lambda: ["cd ~/src/shop", f"git checkout {rng.choice(BRANCHES)}", "git pull", "make test"])
    r.append(lambda: [f"git pull && make build && ./deploy.sh {rng.choice(['staging', 'production'])}"])
    r.append(lambda: ["docker compose pull", "docker compose up -d", "docker compose logs --tail 50 web"])
    r.append(lambda: [f"ssh {rng.choice(HOSTS)} uptime"])
    r.append(lambda: [f"tar czf backups/site-2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}.tar.gz site"])
    r.append(lambda: [f"rsync -av reports /mnt/backup/{rng.choice(['daily', 'weekly'])}/"])
    r.append(lambda: ["curl -sS -H 'Authorization: Bearer sk-" + "".join(rng.choices("abcdef0123456789", k=24))
                      + "' https://api.example.com/v1/status"])
    r.append(lambda: [f"export API_TOKEN=tok{rng.randint(10**8, 10**9)}", "python scripts/sync.py --since 1d"])
    r.append(lambda: ["kubectl -n prod get pods", f"kubectl -n prod logs deploy/{rng.choice(['web', 'worker'])} --tail 100"])
    r.append(lambda: ["npm ci", "npm run build", "npm test"])
    r.append(lambda: [f"pytest -q tests/{rng.choice(['unit', 'integration'])}"])
    r.append(lambda: ["source .venv/bin/activate", "pip install -r requirements.txt", "python manage.py migrate"])
    r.append(lambda: [f"cp config/{rng.choice(['dev', 'prod'])}.env .env", "docker compose restart web"])
    r.append(lambda: ["git fetch --all --prune", "git rebase origin/main"])
    r.append(lambda: [f"psql -h db.internal -U app -c 'select count(*) from orders where day = {rng.randint(1, 28)}'"])
    r.append(lambda: ["terraform init", "terraform plan -out plan.bin", "terraform apply plan.bin"])
    r.append(lambda: [f"mysql -uroot -pS3cr{rng.randint(100, 999)} shop < dumps/latest.sql"])
    r.append(lambda: ["for f in logs/*.log; do\n  gzip \"$f\"\ndone"])
    r.append(lambda: ["cargo build --release", "cargo test"])
    r.append(lambda: [f"helm upgrade shop charts/shop -n {rng.choice(['staging', 'prod'])} -f values.yaml"])
    r.append(lambda: [f"git checkout -b {rng.choice(['feat', 'fix'])}-{rng.randint(100, 999)}", "git push -u origin HEAD"])
    r.append(lambda: ["make lint", "make test"])
    r.append(lambda: [f"scp build/app.tar.gz {rng.choice(HOSTS)}:/srv/releases/"])
    r.append(lambda: ["docker build -t shop:latest .", "docker push shop:latest"])
    r.append(lambda: [f"curl -s https://status.example.com/api/{rng.choice(['health', 'ready'])}"])
    r.append(lambda: ["go test ./...", "go vet ./..."])
    r.append(lambda: [f"rm -rf build && make -j{rng.choice([4, 8])}"])
    r.append(lambda: ["systemctl --user restart syncthing"])
    r.append(lambda: [f"sed -i 's/version = .*/version = \"{rng.randint(1, 9)}.{rng.randint(0, 20)}\"/' pyproject.toml"])
    r.append(lambda: ["git add -A", f"git commit -m 'wip {rng.randint(1, 500)}'", "git push"])
    return r


ONE_OFFS = ["htop", "du -sh *", "df -h", "brew upgrade", "vim notes.md", "man rsync", "whoami", "date",
            "ping -c 3 8.8.8.8", "nslookup example.com", "python3", "echo $PATH", "history | tail", "top",
            "ls -la", "ll", "clear", "git status", "git log --oneline -5", "cd ..", "cd -", "pwd"]


def entries(rng: random.Random, count: int) -> list[tuple[int, str]]:
    """(timestamp, command) pairs, oldest first, ending near NOW."""
    routines = _routines(rng)
    weights = [rng.uniform(0.2, 3.0) for _ in routines]
    out: list[tuple[int, str]] = []
    t = int(NOW.timestamp()) - 365 * 86400
    step = 365 * 86400 // max(count, 1)
    while len(out) < count:
        t += rng.randint(step // 2, step * 3 // 2) * (8 if rng.random() < 0.05 else 1)
        roll = rng.random()
        if roll < 0.5:
            cmds = rng.choices(routines, weights)[0]()
        elif roll < 0.85:
            cmds = [rng.choice(ONE_OFFS)]
        else:
            cmds = [f"{rng.choice(['grep', 'find', 'cat', 'less'])} {rng.choice(['-r', '-n', ''])} "
                    f"{rng.choice(['TODO', 'error', 'src', 'README.md'])} {rng.randint(1, 9999)}"]
        for cmd in cmds:
            if rng.random() < 0.02:
                i = rng.randrange(len(cmd) - 1) if len(cmd) > 2 else 0
                cmd = cmd[:i] + cmd[i + 1:i + 2] + cmd[i:i + 1] + cmd[i + 2:]  # a typo
            out.append((t, cmd))
            t += rng.randint(2, 90)
    out = out[:count]
    shift = int(NOW.timestamp()) - 3600 - out[-1][0]  # the newest entry an hour before NOW
    return [(t + shift, cmd) for t, cmd in out]


def write_zsh(items: list[tuple[int, str]], path: Path, rng: random.Random) -> int:
    lines = []
    for t, cmd in items:
        lines.append(f": {t}:0;" + cmd.replace("\n", "\\\n"))
        if rng.random() < 0.0005:
            lines.append("\x00\x01\x02binary junk \xff")
    path.write_bytes("\n".join(lines).encode("utf-8", errors="surrogateescape") + b"\n")
    return len(lines)


def write_bash(items: list[tuple[int, str]], path: Path, stamps: bool) -> int:
    lines = []
    for t, cmd in items:
        if stamps:
            lines.append(f"#{t}")
        lines.append(cmd.replace("\n", "; ") if not stamps else cmd)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def write_fish(items: list[tuple[int, str]], path: Path) -> int:
    lines = []
    for t, cmd in items:
        lines.append("- cmd: " + cmd.replace("\\", "\\\\").replace("\n", "\\n"))
        lines.append(f"  when: {t}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def _median(fn, repeat: int = 3) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``fn()`` (CPU time is what the machine's load does not
    inflate: the benchmark machine is shared), and its last result."""
    from yaml2dag.suggest import sequences

    walls, cpus, result = [], [], None
    for _ in range(repeat):
        sequences._CACHE.clear()  # each run parses the commands again, as a fresh `yaml2dag suggest` does
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    from yaml2dag.suggest import suggest
    from yaml2dag.suggest.histories import read_history
    from yaml2dag.suggest.sequences import in_window, mine, sessions

    folder = Path(tempfile.mkdtemp(prefix="y2d-bench-suggest-"))
    rng = random.Random(SEED)
    files = {}
    n = args.lines
    files["zsh (extended)"] = (folder / "zsh_history", write_zsh(entries(random.Random(SEED), n), folder / "zsh_history", rng))
    files["bash (HISTTIMEFORMAT)"] = (folder / "bash_ts", write_bash(entries(random.Random(SEED), n // 2), folder / "bash_ts", True))
    files["fish"] = (folder / "fish_history", write_fish(entries(random.Random(SEED), n // 2), folder / "fish_history"))
    files["bash (plain, no timestamps)"] = (folder / "bash_plain", write_bash(entries(random.Random(SEED), n), folder / "bash_plain", False))
    print("Seconds: CPU (wall). Median of 3.\n")
    print("| history | lines | window | read | read + mine | total `suggest()` | sequences found | suggestions |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for label, (path, lines) in files.items():
        for window, days in (("7 days", 7), ("whole year", 400)):
            if "plain" in label and days == 400:
                continue
            end = NOW.timestamp()
            start = end - days * 86400

            def read_only():
                return read_history(path)

            def read_mine():
                got, report = read_history(path)
                return mine(sessions(in_window(got, report, start, end)), 3)

            def total():
                return suggest([path], days=days, now=NOW)

            w_read, c_read, _ = _median(read_only)
            w_mine, c_mine, patterns = _median(read_mine)
            w_total, c_total, report = _median(total)
            shown = "all (no timestamps)" if "plain" in label else window
            print(f"| {label} | {lines:,} | {shown} | {c_read:.2f} ({w_read:.2f}) | {c_mine:.2f} ({w_mine:.2f}) | "
                  f"{c_total:.2f} ({w_total:.2f}) | {len(patterns)} | {len(report.suggestions)} |", flush=True)
    env = {**os.environ, "NO_COLOR": "1", "YAML2DAG_DEFINITIONS": str(folder / "none"),
           "DAGSTER_HOME": str(folder / "no_home")}
    path = files["zsh (extended)"][0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "yaml2dag", "suggest", "--history", str(path), "--now",
                           NOW.isoformat(), "--format", "json", "--no-runs"], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    found = len(json.loads(done.stdout)["suggestions"]) if done.returncode == 0 else f"failed: {done.stderr[-300:]}"
    print(f"\nCLI `yaml2dag suggest --history <zsh, {files['zsh (extended)'][1]:,} lines> --format json --no-runs`: "
          f"{took:.2f} s wall (process start included), {found} suggestions")


if __name__ == "__main__":
    main()
