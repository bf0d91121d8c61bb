"""The `system` tool's actions called directly (the TOOL's `Action.run` with a ToolContext, no
Dagster run): the errors a workflow author can cause, with the messages of
docs/manual/tools/system_en.md ("Errors"), and the less-used options (`mounts` naming any path,
`interval: 0`, the disks listed without `mounts`, the check's result and log when healthy or not).
psutil is replaced only where the host cannot produce the case (unreadable disk, bind mounts,
image filesystems, a container listing no disk, a platform without load average).
"""

from __future__ import annotations

import os
import types

import psutil
import pytest

from recording_log import RecordingLog
from yaml2dag.tools.base import Markdown, ToolContext, ToolError
from yaml2dag.tools.system import TOOL


def _run(action: str, params: dict, log: RecordingLog | None = None):
    ctx = ToolContext("sys", log=log or RecordingLog())
    return next(a for a in TOOL.actions if a.name == action).run(ctx, params)


def _partition(mountpoint: str, fstype: str = "ext4"):
    return types.SimpleNamespace(device="/dev/x", mountpoint=mountpoint, fstype=fstype, opts="rw")


def test_metrics_with_interval_zero_and_a_file_as_mount_reports_that_path(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"x")
    log = RecordingLog()
    result = _run("metrics", {"mounts": [str(target)], "interval": 0}, log)
    disks = result.output["disks"]
    assert [d["mount"] for d in disks] == [str(target)]
    assert disks[0]["total"] > 0 and disks[0]["used"] + disks[0]["free"] <= disks[0]["total"]
    assert 0 <= disks[0]["percent"] <= 100
    assert result.fields["disks"] == disks
    assert result.fields["memory_percent"] == result.output["memory"]["percent"]
    assert len(result.fields["load_avg"]) == 3
    # one info line naming the host and the disk, and the markdown table for the UI
    (level, line), = log.lines
    assert level == "info" and line.startswith(f"{result.output['hostname']}: cpu ")
    assert f"disk {target} " in line
    assert isinstance(result.metadata["metrics"], Markdown)
    assert f"| disk `{target}` |" in result.metadata["metrics"]


def test_a_mount_with_a_tilde_is_expanded_but_reported_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = _run("metrics", {"mounts": ["~"], "interval": 0})
    assert [d["mount"] for d in result.output["disks"]] == ["~"]


def test_a_missing_mount_fails_before_anything_else_and_is_not_retried(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(ToolError) as info:
        _run("metrics", {"mounts": [str(tmp_path), str(missing)], "interval": 0})
    assert info.value.message == f"mount '{missing}' does not exist"
    assert info.value.retryable is False


def test_an_unreadable_disk_names_the_mount_and_the_reason(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(psutil, "disk_usage", refuse)
    with pytest.raises(ToolError) as info:
        _run("check", {"disk_percent": 90, "mounts": [str(tmp_path)], "interval": 0})
    assert info.value.message == f"cannot read disk usage of {tmp_path}: Permission denied"
    assert info.value.retryable is False


def test_without_mounts_image_filesystems_and_bind_mounts_are_left_out(tmp_path, monkeypatch):
    bind = tmp_path / "bind"
    bind.mkdir()
    snap = tmp_path / "snap"
    snap.mkdir()
    partitions = [
        _partition(str(bind)),                    # same filesystem as tmp_path: the shorter wins
        _partition(str(tmp_path)),
        _partition(str(snap), "squashfs"),        # read-only image: always 100%, never reported
        _partition(str(tmp_path / "not-there")),  # listed but gone: skipped
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: partitions)
    result = _run("metrics", {"interval": 0})
    assert [d["mount"] for d in result.output["disks"]] == [str(tmp_path)]


def test_without_mounts_a_partition_that_cannot_be_read_is_skipped(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    real_usage = psutil.disk_usage

    def usage(path):
        if path == str(other):
            raise PermissionError(13, "Permission denied", path)
        return real_usage(path)

    monkeypatch.setattr(psutil, "disk_usage", usage)
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: [_partition(str(other)),
                                                                       _partition(str(tmp_path))])
    result = _run("metrics", {"interval": 0})
    assert [d["mount"] for d in result.output["disks"]] == [str(tmp_path)]


def test_a_container_listing_no_disk_reports_its_root_filesystem(monkeypatch):
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: [])
    result = _run("metrics", {"interval": 0})
    assert [d["mount"] for d in result.output["disks"]] == [os.path.abspath(os.sep)]
    assert result.output["disks"][0]["total"] > 0


def test_a_platform_without_load_average_reports_zeros(monkeypatch):
    def missing():
        raise OSError("not available")

    monkeypatch.setattr(psutil, "getloadavg", missing)
    result = _run("metrics", {"interval": 0})
    assert result.output["load_avg"] == [0.0, 0.0, 0.0]
    assert result.fields["load_avg"] == [0.0, 0.0, 0.0]


def test_check_healthy_logs_so_and_has_no_alerts_metadata(tmp_path):
    log = RecordingLog()
    result = _run("check", {"disk_percent": 100, "memory_percent": 100, "mounts": [str(tmp_path)],
                            "interval": 0}, log)
    assert result.output == [] and result.fields["alerts"] == []
    assert result.fields["healthy"] is True and result.fields["count"] == 0
    assert result.fields["metrics"]["disks"][0]["mount"] == str(tmp_path)
    assert result.metadata["healthy"] is True and "alerts" not in result.metadata
    assert log.lines == [("info", f"{result.fields['metrics']['hostname']} is healthy: every metric is "
                                  "within its threshold")]


def test_check_over_a_threshold_warns_and_lists_the_alert_in_the_metadata(tmp_path, monkeypatch):
    total = 1000 * 1024 ** 3
    monkeypatch.setattr(psutil, "disk_usage", lambda path: types.SimpleNamespace(
        total=total, used=total * 0.932, free=total * 0.068, percent=93.2))
    log = RecordingLog()
    result = _run("check", {"disk_percent": 90, "mounts": [str(tmp_path)],
                            "interval": 0}, log)
    message = f"disk {tmp_path} is 93.2% (threshold 90%)"
    assert result.output == [{"metric": "disk_percent", "value": 93.2, "threshold": 90, "mount": str(tmp_path),
                              "message": message}]
    assert result.fields["healthy"] is False and result.fields["count"] == 1
    assert ("warning", f"ALERT {message}") in log.lines
    assert result.metadata["healthy"] is False
    assert result.metadata["alerts"] == f"- {message}"
    assert isinstance(result.metadata["alerts"], Markdown)
    # the UI table shows the sizes in GiB
    assert f"| disk `{tmp_path}` | 93.2% of 1000.0 GiB (68.0 GiB free) |" in result.metadata["metrics"]
