"""The `system` tool on the real host, through real Dagster runs (issue #4)."""

from __future__ import annotations

import datetime as dt
import socket

import psutil
import pytest

from yaml2dag.tools import system as system_tool
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow


def test_metrics_returns_sane_real_numbers(run_yaml, tmp_path):
    ran = run_yaml(f"""
        name: Metrics
        steps:
          - id: m
            tool: system
            parameters: {{interval: 0.2}}
          - id: here
            tool: system
            action: metrics
            parameters: {{mounts: ["{tmp_path}"], interval: 0}}
        outputs:
          metrics: "{{{{ m.output }}}}"
          memory_percent: "{{{{ m.memory_percent }}}}"
          here: "{{{{ here.disks }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    m = ran.result.outputs["metrics"]
    assert set(m) >= {"cpu_percent", "cpu_count", "load_avg", "memory", "disks", "boot_time", "hostname"}
    assert 0 <= m["cpu_percent"] <= 100
    assert m["cpu_count"] == psutil.cpu_count() >= 1
    assert len(m["load_avg"]) == 3 and all(v >= 0 for v in m["load_avg"])
    mem = m["memory"]
    assert mem["total"] == psutil.virtual_memory().total > 0
    assert all(isinstance(mem[k], int) for k in ("total", "available", "used"))
    assert 0 < mem["available"] <= mem["total"] and 0 <= mem["percent"] <= 100
    assert ran.result.outputs["memory_percent"] == mem["percent"]
    assert m["disks"], "at least one disk"
    for disk in m["disks"]:
        assert disk["total"] > 0 and 0 <= disk["used"] <= disk["total"] and disk["free"] >= 0
        assert 0 <= disk["percent"] <= 100 and isinstance(disk["total"], int)
    boot = dt.datetime.fromisoformat(m["boot_time"])
    assert boot < dt.datetime.now(dt.timezone.utc)
    assert m["hostname"] == socket.gethostname()
    here = ran.result.outputs["here"]
    assert [d["mount"] for d in here] == [str(tmp_path)]
    assert here[0]["total"] == psutil.disk_usage(str(tmp_path)).total


def test_check_alerts_are_data_and_drive_later_steps(run_yaml, tmp_path):
    ran = run_yaml(f"""
        name: Monitor
        steps:
          - id: strict
            tool: system
            action: check
            parameters: {{memory_percent: 0, disk_percent: 0, mounts: ["{tmp_path}"], interval: 0.1}}
          - id: relaxed
            tool: system
            action: check
            parameters: {{cpu_percent: 100, memory_percent: 100, disk_percent: 100, load_1m: 100000}}
          - id: alert_strict
            when: "{{{{ strict.alerts }}}}"
            tool: shell
            parameters: {{command: "echo {{{{ strict.count }}}} alerts"}}
          - id: alert_relaxed
            when: "{{{{ relaxed.alerts }}}}"
            tool: shell
            parameters: {{command: "echo should not run"}}
        outputs:
          strict: "{{{{ strict.output }}}}"
          strict_healthy: "{{{{ strict.healthy }}}}"
          relaxed: "{{{{ relaxed.alerts }}}}"
          relaxed_healthy: "{{{{ relaxed.healthy }}}}"
          relaxed_memory: "{{{{ relaxed.metrics.memory.percent }}}}"
          notified: "{{{{ alert_strict.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.steps == {"strict": "succeeded", "relaxed": "succeeded", "alert_strict": "succeeded",
                                "alert_relaxed": "skipped"}
    out = ran.result.outputs
    alerts = out["strict"]
    assert [a["metric"] for a in alerts] == ["memory_percent", "disk_percent"]
    memory, disk = alerts
    assert memory["threshold"] == 0 and 0 < memory["value"] <= 100
    assert memory["message"] == f"memory usage is {memory['value']:g}% (threshold 0%)"
    assert disk["mount"] == str(tmp_path) and disk["message"].startswith(f"disk {tmp_path} is ")
    assert out["strict_healthy"] is False
    assert out["relaxed"] == [] and out["relaxed_healthy"] is True
    assert 0 < out["relaxed_memory"] <= 100
    assert out["notified"] == "2 alerts"


def test_evaluate_compares_strictly_above_the_threshold():
    metrics = {"cpu_percent": 50.0, "memory": {"percent": 80.0}, "load_avg": [2.5, 1.0, 0.5],
               "disks": [{"mount": "/", "percent": 91.5}, {"mount": "/data", "percent": 40.0}]}
    alerts = system_tool.evaluate(metrics, {"cpu_percent": 50, "memory_percent": 79.9, "disk_percent": 90,
                                            "load_1m": 2})
    assert [(a["metric"], a.get("mount")) for a in alerts] == [("memory_percent", None), ("disk_percent", "/"),
                                                               ("load_1m", None)]
    assert alerts[1]["message"] == "disk / is 91.5% (threshold 90%)"
    assert system_tool.evaluate(metrics, {}) == []


def test_unknown_mount_is_a_clear_error(tmp_path):
    with pytest.raises(ToolError) as info:
        system_tool.check(ToolContext("c"), {"disk_percent": 90, "mounts": [str(tmp_path / "nope")]})
    assert info.value.message == f"mount '{tmp_path / 'nope'}' does not exist"
    assert info.value.retryable is False


def test_validator_reports_bad_system_parameters_with_line_numbers():
    text = """\
name: Bad system
steps:
  - id: c
    tool: system
    action: check
    parameters:
      mounts: [/]
  - id: d
    tool: system
    action: check
    parameters:
      cpu_percent: 150
      disk_percent: high
  - id: m
    tool: system
    parameters: {interval: 1, mount: [/]}
outputs:
  ok: "{{ c.alerts }}"
  bad: "{{ c.alarms }}"
"""
    report = validate_text(text, "bad.yaml")
    assert [p.format() for p in report.problems] == [
        "bad.yaml:7:7: steps[0].parameters: expected at least one threshold: `cpu_percent`, `memory_percent`, "
        "`disk_percent` or `load_1m`, got a mapping [parameters]",
        "bad.yaml:12:20: steps[1].parameters.cpu_percent: must be at most 100, got 150 [parameters]",
        "bad.yaml:13:21: steps[1].parameters.disk_percent: expected a number, got the string 'high' [parameters]",
        "bad.yaml:16:31: steps[2].parameters.mount: unknown key `mount`; did you mean `mounts`? [parameters]",
        "bad.yaml:19:8: outputs.bad: step `c` has no result field `alarms`; did you mean `alerts`? (fields: alerts, "
        "attempts, count, duration, error, healthy, metrics, output, status, succeeded) [reference]",
    ]
