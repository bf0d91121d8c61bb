"""The ``system`` tool: host metrics and threshold checks with psutil (spec §6, issue #4).

Actions (``metrics`` is the default):

* ``metrics`` — CPU, memory, swap, disks per mount, load average, boot time, host name;
* ``check`` — the same metrics compared with thresholds; the result lists ``alerts``
  (empty when healthy). The step succeeds either way: alerts are data, and later steps decide
  (``when: "{{ check.alerts }}"``).

Units: sizes are bytes (integers), percentages 0–100 (floats), times ISO 8601 UTC / seconds.
A metric goes over its threshold when its value is strictly greater than the threshold.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import time
from typing import Any

from yaml2dag.tools.base import Action, Markdown, Tool, ToolContext, ToolError, ToolResult

#: Default seconds over which CPU usage is measured.
DEFAULT_INTERVAL = 0.5
#: Read-only image filesystems (snaps, CD images): always 100% full, never reported.
IGNORED_FSTYPES = frozenset(("squashfs", "iso9660", "udf", "cramfs", "erofs"))

_MOUNTS = {
    "type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
    "description": "Paths whose filesystems are reported (default: every mounted disk).",
}
_INTERVAL = {"type": "number", "minimum": 0, "maximum": 60,
             "description": "Seconds over which CPU usage is measured (default 0.5)."}
_PERCENT = {"type": "number", "minimum": 0, "maximum": 100}

METRICS_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"mounts": _MOUNTS, "interval": _INTERVAL},
}

CHECK_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "cpu_percent": dict(_PERCENT, description="Alert when CPU usage is over this percentage."),
        "memory_percent": dict(_PERCENT, description="Alert when memory usage is over this percentage."),
        "disk_percent": dict(_PERCENT, description="Alert when a disk is fuller than this percentage."),
        "load_1m": {"type": "number", "minimum": 0, "description": "Alert when the 1-minute load average is over this."},
        "mounts": _MOUNTS,
        "interval": _INTERVAL,
    },
    "anyOf": [{"required": [k]} for k in ("cpu_percent", "memory_percent", "disk_percent", "load_1m")],
    "x-expected": "at least one threshold: `cpu_percent`, `memory_percent`, `disk_percent` or `load_1m`",
}


def _psutil() -> Any:
    try:
        # optional: may be missing
        import psutil
    except ImportError:  # pragma: no cover - a declared dependency
        raise ToolError("the system tool needs psutil: pip install psutil", retryable=False) from None
    return psutil


def _disk(psutil: Any, mount: str, path: str | None = None) -> dict:
    usage = psutil.disk_usage(path or mount)
    return {"mount": mount, "total": int(usage.total), "used": int(usage.used), "free": int(usage.free),
            "percent": float(usage.percent)}


def disks(mounts: list[str] | None = None) -> list[dict]:
    """Disk usage per filesystem.

    Args:
        mounts: paths to report (each path's filesystem; ``mount`` is the path as given).
            None: every mounted disk (``psutil.disk_partitions(all=False)``), without read-only
            image filesystems, one entry per filesystem (the shortest mount point).

    Returns:
        ``[{mount, total, used, free, percent}]`` (bytes, percent 0–100).

    Raises:
        ToolError: a given path does not exist or cannot be read.
    """
    psutil = _psutil()
    if mounts:
        out = []
        for mount in mounts:
            path = os.path.abspath(os.path.expanduser(str(mount)))
            if not os.path.exists(path):
                raise ToolError(f"mount {mount!r} does not exist", retryable=False)
            try:
                out.append(_disk(psutil, str(mount), path))
            except OSError as exc:
                raise ToolError(f"cannot read disk usage of {mount}: {exc.strerror or exc}", retryable=False) from None
        return out
    seen: set = set()
    out = []
    partitions = sorted(psutil.disk_partitions(all=False), key=lambda p: (len(p.mountpoint), p.mountpoint))
    for part in partitions:
        if part.fstype in IGNORED_FSTYPES or not os.path.isdir(part.mountpoint):
            continue
        try:
            device = os.stat(part.mountpoint).st_dev
            entry = _disk(psutil, part.mountpoint)
        except OSError:
            continue
        if device in seen:
            continue
        seen.add(device)
        out.append(entry)
    if not out:  # containers may list no partitions: report the root filesystem
        out.append(_disk(psutil, os.path.abspath(os.sep)))
    return out


def collect(mounts: list[str] | None = None, interval: float = DEFAULT_INTERVAL) -> dict:
    """Current host metrics.

    Args:
        mounts: paths whose disks are reported (see :func:`disks`).
        interval: seconds over which CPU usage is sampled (0: since the previous call).

    Returns:
        ``{cpu_percent, cpu_count, load_avg: [1m, 5m, 15m], memory: {total, available, used,
        percent}, swap: {total, used, free, percent}, disks: [...], boot_time (ISO 8601 UTC),
        uptime (seconds), hostname}``; sizes in bytes.
    """
    psutil = _psutil()
    cpu = float(psutil.cpu_percent(interval=interval if interval > 0 else None))
    try:
        load = [round(float(v), 2) for v in psutil.getloadavg()]
    except (AttributeError, OSError):
        load = [0.0, 0.0, 0.0]
    mem = psutil.virtual_memory()
    swap = psutil.swap_memory()
    boot = psutil.boot_time()
    return {
        "cpu_percent": cpu,
        "cpu_count": int(psutil.cpu_count(logical=True) or 1),
        "load_avg": load,
        "memory": {"total": int(mem.total), "available": int(mem.available), "used": int(mem.used),
                   "percent": float(mem.percent)},
        "swap": {"total": int(swap.total), "used": int(swap.used), "free": int(swap.free),
                 "percent": float(swap.percent)},
        "disks": disks(mounts),
        "boot_time": _dt.datetime.fromtimestamp(boot, _dt.timezone.utc).isoformat(),
        "uptime": int(max(0.0, time.time() - boot)),
        "hostname": socket.gethostname(),
    }


def _gib(value: int) -> str:
    return f"{value / 1024 ** 3:.1f} GiB"


def _summary(m: dict) -> Markdown:
    rows = [
        f"| CPU | {m['cpu_percent']:.1f}% of {m['cpu_count']} cores |",
        f"| load (1/5/15 min) | {' / '.join(f'{v:.2f}' for v in m['load_avg'])} |",
        f"| memory | {m['memory']['percent']:.1f}% of {_gib(m['memory']['total'])} |",
    ]
    rows += [f"| disk `{d['mount']}` | {d['percent']:.1f}% of {_gib(d['total'])} ({_gib(d['free'])} free) |"
             for d in m["disks"]]
    return Markdown(f"**{m['hostname']}**\n\n| metric | value |\n|---|---|\n" + "\n".join(rows))


def _interval(params: dict) -> float:
    return float(params.get("interval", DEFAULT_INTERVAL))


def metrics(ctx: ToolContext, params: dict) -> ToolResult:
    """Collect host metrics (see :func:`collect`).

    Returns:
        ``output``: the metrics dict; fields ``cpu_percent``, ``memory_percent``, ``load_avg``,
        ``disks``, ``hostname`` for short templates (``{{ m.memory_percent }}``).

    Raises:
        ToolError: a path of ``mounts`` does not exist.
    """
    m = collect(params.get("mounts"), _interval(params))
    ctx.log.info(f"{m['hostname']}: cpu {m['cpu_percent']:.1f}%, memory {m['memory']['percent']:.1f}%, "
                 f"load {m['load_avg'][0]:.2f}, "
                 + ", ".join(f"disk {d['mount']} {d['percent']:.1f}%" for d in m["disks"]))
    fields = {"cpu_percent": m["cpu_percent"], "memory_percent": m["memory"]["percent"],
              "load_avg": m["load_avg"], "disks": m["disks"], "hostname": m["hostname"]}
    return ToolResult(output=m, fields=fields, metadata={"metrics": _summary(m)})


def evaluate(m: dict, thresholds: dict) -> list[dict]:
    """Alerts for the metrics over their thresholds (value > threshold).

    Args:
        m: metrics from :func:`collect`.
        thresholds: any of ``cpu_percent``, ``memory_percent``, ``disk_percent``, ``load_1m``.

    Returns:
        ``[{metric, value, threshold, message}]`` (disk alerts also carry ``mount``), in the
        order cpu, memory, disks, load; empty when every metric is within its threshold.
    """
    alerts: list[dict] = []

    def over(metric: str, value: float, unit: str, what: str, **extra: Any) -> None:
        limit = thresholds.get(metric)
        if limit is None or not value > float(limit):
            return
        alerts.append({"metric": metric, "value": value, "threshold": limit, **extra,
                       "message": f"{what} is {value:g}{unit} (threshold {float(limit):g}{unit})"})

    over("cpu_percent", m["cpu_percent"], "%", "CPU usage")
    over("memory_percent", m["memory"]["percent"], "%", "memory usage")
    for disk in m["disks"]:
        over("disk_percent", disk["percent"], "%", f"disk {disk['mount']}", mount=disk["mount"])
    over("load_1m", m["load_avg"][0], "", "1-minute load average")
    return alerts


def check(ctx: ToolContext, params: dict) -> ToolResult:
    """Compare host metrics with thresholds.

    Args (``params``):
        cpu_percent / memory_percent / disk_percent: percentages (0–100); ``disk_percent``
            applies to every disk, or to the paths of ``mounts``.
        load_1m: 1-minute load average (not divided by the core count).
        mounts: paths whose disks are checked. interval: CPU sampling seconds.

    Returns:
        ``output``: the alerts list (empty when healthy); fields ``alerts``, ``healthy``
        (bool), ``count`` (number of alerts), ``metrics`` (the full metrics dict). The step
        succeeds whether or not there are alerts.

    Raises:
        ToolError: no threshold given, a path of ``mounts`` does not exist.
    """
    m = collect(params.get("mounts"), _interval(params))
    alerts = evaluate(m, params)
    for alert in alerts:
        ctx.log.warning(f"ALERT {alert['message']}")
    if not alerts:
        ctx.log.info(f"{m['hostname']} is healthy: every metric is within its threshold")
    fields = {"alerts": alerts, "healthy": not alerts, "count": len(alerts), "metrics": m}
    metadata = {"healthy": not alerts, "metrics": _summary(m)}
    if alerts:
        metadata["alerts"] = Markdown("\n".join(f"- {a['message']}" for a in alerts))
    return ToolResult(output=alerts, fields=fields, metadata=metadata)


TOOL = Tool(
    name="system",
    description="Host metrics (CPU, memory, disks, load) and threshold checks.",
    actions=(
        Action(
            name="metrics",
            description="Collect CPU, memory, disk and load metrics.",
            parameters=METRICS_PARAMETERS,
            run=metrics,
            result_fields=("cpu_percent", "memory_percent", "load_avg", "disks", "hostname"),
            output="the metrics map",
        ),
        Action(
            name="check",
            description="Compare metrics with thresholds; `alerts` lists what is over (empty when healthy).",
            parameters=CHECK_PARAMETERS,
            run=check,
            result_fields=("alerts", "healthy", "count", "metrics"),
            output="the alerts list",
        ),
    ),
)
