"""Run every benchmark and print the markdown rows for docs/benchmarks.md.

Usage: python benchmarks/run_all.py
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
for script in ("per_step_overhead.py", "parallel_steps.py", "definitions_load.py", "cold_run.py", "list_speed.py"):
    print(f"<!-- {script} -->", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE)
