"""``theta runs [DIR]``: the run folders under DIR, newest first, as a table or as JSON."""

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def runs(theta_cli, tmp_path_factory):
    """Three iris runs with known dates: small (oldest), wide (newest), and an interrupted copy."""
    folder = tmp_path_factory.mktemp("listing") / "runs"
    for name, hidden in (("small", "4"), ("wide", "16")):
        result = theta_cli("train", "--data", "iris", "--epochs", "2", "--hidden", hidden,
                           "--out", str(folder / name), "--quiet")  # fmt: skip
        assert result.returncode == 0, result.stderr
    shutil.copytree(folder / "small", folder / "stopped")
    for name, date, status in (("small", "2024-01-02T03:04:05+00:00", "done"),
                               ("wide", "2024-03-01T00:00:00+00:00", "done"),
                               ("stopped", "2024-02-01T00:00:00+00:00", "interrupted")):
        stamp = json.loads((folder / name / "run.json").read_text())
        stamp.update(started=date, status=status)
        (folder / name / "run.json").write_text(json.dumps(stamp))
    (folder / "notes").mkdir()  # not a run: no stamp, config or summary
    (folder / "notes" / "todo.txt").write_text("compare them")
    return folder


def test_runs_are_listed_newest_first(theta_cli, runs):
    result = theta_cli("runs", str(runs))
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["name", "kind", "data", "status", "steps", "final", "metrics",
                              "date"]  # fmt: skip
    assert [line.split()[0] for line in lines] == ["wide", "stopped", "small"]
    wide = lines[0].split()
    summary = json.loads((runs / "wide" / "summary.json").read_text())
    assert wide[1:5] == ["mlp", "iris", "finished", str(summary["steps"])]
    assert f"val_accuracy {summary['final']['val_accuracy']:.4g}" in lines[0]
    assert lines[1].split()[3] == "interrupted"


def test_runs_as_json_for_scripts(theta_cli, runs):
    result = theta_cli("runs", str(runs), "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [r["name"] for r in listed] == ["wide", "stopped", "small"]
    small = listed[2]
    summary = json.loads((runs / "small" / "summary.json").read_text())
    assert small["final"] == summary["final"] and small["steps"] == summary["steps"]
    assert small["started"] == "2024-01-02T03:04:05+00:00" and small["status"] == "finished"
    assert small["kind"] == "mlp" and small["data"] == "iris"
    assert small["seconds"] == summary["seconds"] and small["machine"].endswith("CPUs")
    assert small["path"] == str(runs / "small")


def test_a_run_folder_itself_is_listed_alone(theta_cli, runs):
    result = theta_cli("runs", str(runs / "wide"), "--json")
    assert [r["name"] for r in json.loads(result.stdout)] == ["wide"]


def test_the_default_folder_is_runs(theta_cli, runs):
    result = theta_cli("runs", cwd=runs.parent)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["wide", "stopped",
                                                                           "small"]  # fmt: skip


def test_an_unstamped_run_from_an_older_theta_is_listed_as_unknown(theta_main, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "summary.json").write_text(json.dumps({"data": "iris", "steps": 7,
                                                  "final": {"loss": 0.5}}))  # fmt: skip
    code, out, err = theta_main("runs", str(tmp_path), "--json")
    assert code == 0, err
    (listed,) = json.loads(out)
    assert listed["status"] == "unknown" and listed["steps"] == 7 and listed["data"] == "iris"
    assert listed["started"] is not None  # the file's time stands in for the missing date


def test_no_runs_and_missing_folders(theta_main, tmp_path):
    assert theta_main("runs", str(tmp_path)) == (0, f"no runs in {tmp_path}\n", "")
    assert json.loads(theta_main("runs", str(tmp_path), "--json")[1]) == []
    code, _, err = theta_main("runs", str(tmp_path / "nope"))
    assert code == 1 and err == f"theta: error: run folder not found: {tmp_path / 'nope'}\n"


def test_bad_flags_are_usage_errors_and_help_says_defaults(theta_cli, tmp_path):
    result = theta_cli("runs", str(tmp_path), "--jsn")
    assert result.returncode == 2 and "unrecognized arguments: --jsn" in result.stderr
    assert "Traceback" not in result.stderr
    help_text = " ".join(theta_cli("runs", "--help").stdout.split())
    assert "(default: runs)" in help_text and "(default: off)" in help_text


def test_a_run_whose_process_was_killed_is_listed_as_killed(theta_cli, runs, tmp_path):
    """A SIGKILLed run cannot mark itself: its stamp still says running, and the listing
    tells it from a live run by its recorded process."""
    import os
    import signal
    import subprocess
    import sys

    folder = tmp_path / "runs"
    shutil.copytree(runs / "small", folder / "live")
    shutil.copytree(runs / "small", folder / "gone")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for name, pid in (("live", os.getpid()), ("gone", child.pid)):
            stamp = json.loads((folder / name / "run.json").read_text())
            stat = Path(f"/proc/{pid}/stat").read_text()
            start = int(stat.rsplit(")", 1)[1].split()[19])
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
            stamp.update(status="running", process={"pid": pid, "boot": boot, "start": start})
            (folder / name / "run.json").write_text(json.dumps(stamp))
        statuses = {row["name"]: row["status"]
                    for row in json.loads(theta_cli("runs", str(folder), "--json").stdout)}
        assert statuses == {"live": "running", "gone": "running"}
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        statuses = {row["name"]: row["status"]
                    for row in json.loads(theta_cli("runs", str(folder), "--json").stdout)}
        assert statuses == {"live": "running", "gone": "killed"}
        result = theta_cli("train", "--data", "iris", "--out", str(folder / "gone"), "--quiet")
        assert result.returncode != 0
        assert f"was killed (its process {child.pid} is gone)" in result.stderr
    finally:
        child.kill()
        child.wait()


def test_a_running_stamp_records_this_process(tmp_path):
    import os

    from theta.cli.runs import read_stamp, was_killed, write_stamp

    write_stamp(tmp_path, "train", "running")
    stamp = read_stamp(tmp_path)
    assert stamp["process"]["pid"] == os.getpid() and not was_killed(stamp)
    write_stamp(tmp_path, "train", "done")
    assert "process" not in read_stamp(tmp_path)
