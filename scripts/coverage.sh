#!/usr/bin/env bash
# Line and branch coverage of yaml2dag/ over the whole test suite (both tiers, under pytest-xdist
# as configured in pyproject.toml), code run in subprocesses included: the yaml2dag CLI started by
# tests, `yaml2dag dev` and its webserver, daemon and code servers, the Dagster run workers
# (`dagster api execute_run`) and step processes of the multiprocess executor, Celery workers.
#
# How: coverage.py's `patch = subprocess` (coverage >= 7.10) puts the configuration into
# COVERAGE_PROCESS_CONFIG; the .pth file coverage installs in site-packages starts measuring in
# every Python process that inherits it. `patch = fork` restarts measurement in a forked child
# (tests/cli_forkserver.py forks its CLI calls), `patch = _exit` saves the data of processes ending with
# os._exit, `sigterm = true` of those stopped with SIGTERM; processes killed with SIGKILL (the
# tests of dead runs kill some on purpose) save nothing, which undercounts a little.
#
# Usage: scripts/coverage.sh [PYTEST ARGS...]   (default: the whole suite)
# Writes .coverage (combined), prints the report, writes htmlcov/ and the TOTAL line to
# coverage-total.txt. Exit status: pytest's (the report is printed either way).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

rc=$(mktemp --suffix=.coveragerc)
trap 'rm -f "$rc"' EXIT
cat > "$rc" <<RC
[run]
branch = true
parallel = true
source = yaml2dag
# fastjsonschema's generated validator (format/schema/_compiled.py, regenerated from
# workflow.schema.json and checked against it by a test) is not code anyone writes or reads.
omit = */yaml2dag/format/schema/_compiled.py
data_file = $PWD/.coverage
patch = subprocess, _exit, fork
sigterm = true
concurrency = thread, multiprocessing
disable_warnings = no-data-collected, module-not-measured

[report]
show_missing = false
skip_empty = true
precision = 1
exclude_also =
    if TYPE_CHECKING:
    raise NotImplementedError
RC

rm -f .coverage .coverage.*
"$PYTHON" -m coverage run --rcfile="$rc" -m pytest -q -p no:cacheprovider "$@"
status=$?
"$PYTHON" -m coverage combine --rcfile="$rc" -q
"$PYTHON" -m coverage report --rcfile="$rc" > coverage-report.txt
grep '^TOTAL' coverage-report.txt > coverage-total.txt
"$PYTHON" -m coverage html --rcfile="$rc" -q -d htmlcov
echo "yaml2dag/ line+branch coverage: $(awk '{print $NF}' coverage-total.txt)" \
     "(statements, missed, branches, partial: $(awk '{print $2, $3, $4, $5}' coverage-total.txt);" \
     "per file: coverage-report.txt, htmlcov/index.html)"
exit $status
