"""System checks: "check disk / memory / cpu / load / the system" (检查磁盘使用率...) → a
``system.check`` step whose thresholds are workflow parameters (``disk_threshold``...), read
by the conditions that test the measured values (:mod:`.conditions`).

The ``system`` tool's ``check`` action (yaml2dag/tools/system.py) compares each metric with its
threshold (strictly greater alerts) and succeeds either way: its result fields ``alerts``,
``count``, ``healthy`` and ``metrics`` (``cpu_percent``, ``memory.percent``, ``disks[].percent``,
``load_avg``) are what later steps test. Default thresholds, used when the sentence gives no
number: 90 % for percentages (the shipped "Monitor and Alert" template's defaults) and a
1-minute load average of 4 (a 4-core machine fully busy; compare with your cores).
"""

from __future__ import annotations

import re
from typing import Any

from yaml2dag.library.drafting.builder import Refusal, StepSpec
from yaml2dag.library.drafting.verbs import Context, Intent

_METRICS_EN = r"disk(?:\s+space|\s+usage)?|disks|storage|memory(?:\s+usage)?|ram|cpu(?:\s+load|\s+usage)?|load(?:\s+average)?|system(?:\s+health)?|server(?:\s+health)?|health|host|machine"
_METRICS_ZH = r"磁盘(?:空间)?|硬盘|存储|内存|cpu|处理器|负载|系统|服务器|主机|健康状况"
#: metric → (system.check threshold key, default threshold, description)
METRICS = {"disk": ("disk_percent", 90, "Alert when a disk is fuller than this percentage"),
           "memory": ("memory_percent", 90, "Alert when memory usage is over this percentage"),
           "cpu": ("cpu_percent", 90, "Alert when CPU usage is over this percentage"),
           "load": ("load_1m", 4, "Alert when the 1-minute load average is over this (compare with the cores)")}


def metric_of(word: str) -> str | None:
    """``"disk space"``/``"硬盘"`` → ``disk``; ``"ram"`` → ``memory``; None for "system"-like words."""
    word = word.lower()
    for key, names in (("disk", ("disk", "storage", "磁盘", "硬盘", "存储")), ("memory", ("memory", "ram", "mem", "内存")),
                       ("cpu", ("cpu", "processor", "处理器")), ("load", ("load", "负载"))):
        if word.startswith(names):
            return key
    return None


def threshold_decl(metric: str, value: float | None = None) -> dict:
    key, default, description = METRICS[metric]
    if value is not None:
        default = int(value) if float(value).is_integer() else value
    decl: dict[str, Any] = {"type": "number", "default": default, "minimum": 0}
    if metric != "load":
        decl["maximum"] = 100
    decl["description"] = description
    return decl


def check_spec(metrics: list[str], ctx: Context) -> StepSpec:
    """A ``system.check`` step with one threshold parameter per metric (``disk_threshold``...)."""
    params: dict[str, Any] = {}
    declares: dict[str, Any] = {}
    for metric in metrics:
        name = f"{metric}_threshold"
        declares[name] = threshold_decl(metric)
        params[METRICS[metric][0]] = "{{ " + name + " }}"
    return StepSpec("check_system", "system", "check", params, declares,
                    ("check", "the check", "health check", "system check", "disk check", "检查", "磁盘检查", "系统检查"),
                    produces="check")


def _check(m: re.Match, ctx: Context) -> list[StepSpec]:
    words = re.split(r"\s*(?:,|\band\b|&|/|和|及|与|以及)\s*", m["what"])
    metrics = [x for x in dict.fromkeys(metric_of(w) for w in words if w) if x]
    return [check_spec(metrics or ["cpu", "memory", "disk"], ctx)]


def _recheck(m: re.Match, ctx: Context) -> list[StepSpec]:
    check = ctx.last("check")
    if check is None:
        raise Refusal("say what to check, e.g. \"check disk usage\"")
    ctx.note = f"the system check `{check['id']}` is already in the workflow"
    return []




INTENTS: list[Intent] = [
    Intent("check", rf"(?:check|monitor|watch|measure)\s+(?P<what>(?:{_METRICS_EN})(?:\s*(?:,|and|&|/)\s*(?:and\s+)?(?:{_METRICS_EN}))*)"
                    r"(?:\s+(?:usage|space|utili[sz]ation|load|level|health))?(?:\s+against\s+(?:threshold|thresholds|limit|limits))?",
           rf"(?:检查|监控|查看|监测)(?:一下)?(?:服务器|主机|系统)?的?(?P<what>(?:{_METRICS_ZH})(?:(?:,|和|及|与|以及)(?:{_METRICS_ZH}))*)"
           r"的?(?:使用率|使用情况|占用率|占用|空间|用量|状态|健康状况|健康)?(?:是否超过阈值|是否超标|(?:的)?阈值)?",
           _check, ("check disk usage", "check cpu, memory and disk against thresholds", "检查磁盘使用率")),
    Intent("recheck", r"check(?:\s+it|\s+again|\s+them)?|run\s+check", r"检查|(?:再)?检查一遍", _recheck,
           ("check every 10 minutes",)),
]
