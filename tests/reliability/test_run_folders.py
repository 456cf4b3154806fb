"""Run folders of ``theta train``: what --overwrite may replace, what a refused or failed run
leaves, --resume from the folder alone, Ctrl-C, and the one-line errors of predict and TOML.

Oracles: the folder's exact bytes before and after a refused command, and an uninterrupted
run's saved tensors and metrics for an interrupted-and-resumed one.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from theta.tensorfile import read_tensors, write_tensors

DIGITS = ("train", "--data", "digits", "--hidden", "16", "--dropout", "0.1", "--quiet",
          "--checkpoint-every", "5")  # fmt: skip
IRIS = ("train", "--data", "iris", "--hidden", "4", "--steps", "3", "--quiet")


def snapshot(folder):
    """Every file under ``folder`` with its bytes: equal snapshots mean nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def model_tensors(run):
    return read_tensors(run / "model" / "model.safetensors")[0]


def assert_same_run(a, b):
    ta, tb = model_tensors(a), model_tensors(b)
    assert sorted(ta) == sorted(tb)
    for name in ta:
        np.testing.assert_array_equal(ta[name], tb[name], err_msg=name)
    assert (a / "metrics.csv").read_text() == (b / "metrics.csv").read_text()


# --- item 2: --overwrite replaces only a run folder theta wrote -------------------------------


def test_overwrite_refuses_folder_without_a_stamp_and_changes_nothing(theta_main, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    before = snapshot(mine)
    code, _, err = theta_main(*IRIS, "--out", mine, "--overwrite")
    assert code == 1 and "is not a run folder theta wrote" in err and str(mine) in err
    assert snapshot(mine) == before


def test_overwrite_refuses_folder_with_foreign_entry(theta_main, tmp_path):
    run = tmp_path / "run"
    assert theta_main(*IRIS, "--out", run)[0] == 0
    (run / "notes.txt").write_text("my notes")
    before = snapshot(run)
    code, _, err = theta_main(*IRIS, "--out", run, "--overwrite")
    assert code == 1 and "notes.txt" in err and "did not write" in err
    assert snapshot(run) == before


def test_overwrite_replaces_a_theta_run_whole(theta_main, tmp_path):
    run = tmp_path / "run"
    assert theta_main(*IRIS, "--out", run)[0] == 0
    code, _, err = theta_main("train", "--data", "line", "--steps", "5", "--quiet", "--out", run,
                              "--overwrite")  # fmt: skip
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["data"] == "line"
    assert not (run / "confusion_matrix.png").exists()  # nothing of the iris run is left
    assert json.loads((run / "run.json").read_text())["status"] == "done"
    assert sorted(os.listdir(tmp_path)) == ["run"]  # no folder left aside


def test_existing_run_without_overwrite_is_refused_untouched(theta_main, tmp_path):
    run = tmp_path / "run"
    assert theta_main(*IRIS, "--out", run)[0] == 0
    before = snapshot(run)
    code, _, err = theta_main(*IRIS, "--out", run)
    assert code == 1 and "already exists; pass --overwrite" in err
    assert snapshot(run) == before


# --- items 5 and 8: --resume from the folder alone; a refused one changes nothing ------------


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--optimizer", "sgd"], "argument --optimizer: the run in {run} was trained with "
                                 "optimizer = 'adam'"),
        (["--hidden", "8"], "argument --hidden: the run in {run} was trained with hidden = [4]"),
        (["--steps", "2"], "--steps must be at least 3 (got 2)"),
        (["--epochs", "9"], "--epochs must be the same value (got 9)"),
    ],
)  # fmt: skip
def test_refused_resume_changes_nothing(theta_main, tmp_path, flags, needle):
    run = tmp_path / "run"
    assert theta_main(*IRIS, "--out", run)[0] == 0
    before = snapshot(run)
    code, _, err = theta_main("train", "--out", run, "--resume", *flags)
    assert code == 2 and needle.format(run=run) in err, err
    assert snapshot(run) == before


def test_resume_alone_continues_the_run_from_its_config(theta_main, tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert theta_main(*DIGITS, "--steps", "12", "--out", whole)[0] == 0
    assert theta_main(*DIGITS, "--steps", "7", "--out", part)[0] == 0
    code, _, err = theta_main("train", "--out", part, "--resume", "--steps", "12", "--quiet")
    assert code == 0, err
    assert_same_run(whole, part)
    assert json.loads((part / "config.json").read_text())["steps"] == 12
    code, _, err = theta_main("train", "--out", part, "--resume", "--quiet")  # nothing to add
    assert code == 0, err
    assert_same_run(whole, part)


def test_resume_of_a_missing_checkpoint_refuses_a_foreign_folder(theta_main, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("1,2\n")
    code, _, err = theta_main(*IRIS, "--out", mine, "--resume")
    assert code == 1 and "not a run folder theta wrote" in err
    assert snapshot(mine) == {"data.csv": b"1,2\n"}


# --- item 7: interrupt-and-resume ends bit-identical to an uninterrupted run ----------------


@pytest.mark.parametrize("stop", [1, 5, 23, 44, 46])  # digits' 45 steps per epoch: around one
def test_interrupted_and_resumed_run_is_bit_identical(theta_main, tmp_path, stop):
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert theta_main(*DIGITS, "--steps", "50", "--out", whole)[0] == 0
    assert theta_main(*DIGITS, "--steps", str(stop), "--out", part)[0] == 0
    code, _, err = theta_main(*DIGITS, "--steps", "50", "--out", part, "--resume")
    assert code == 0, err
    assert_same_run(whole, part)


@pytest.mark.slow
def test_resume_of_the_issue_repro_does_not_report_a_false_explosion(theta_main, tmp_path):
    """Issue #13's repro: a dropout MLP on digits resumed past step 3300 exited 1 with "loss
    exploded" (the divergence guard's reference loss was not in the checkpoint)."""
    args = ("train", "--data", "digits", "--hidden", "128", "--dropout", "0.1", "--quiet")
    run = tmp_path / "fd"
    assert theta_main(*args, "--steps", "3300", "--out", run)[0] == 0
    code, _, err = theta_main(*args, "--steps", "6750", "--out", run, "--resume")
    assert code == 0, err


# --- items 6, 10, 16: validate first; a failed run keeps its last good model -----------------


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--loss", "nope"], "config key 'loss': get_loss: unknown loss 'nope'"),
        (["--loss", "mse"], "config key 'loss': 'mse' does not fit this model's output on iris"),
        (["--lr", "inf"], "config key 'lr': must be a float in the range (0, inf). Got inf "
                          "instead."),
        (["--lr", "nan"], "config key 'lr': must be a float in the range (0, inf). Got nan "
                          "instead."),
        (["--data", "nope"], "nope"),
        (["--data", "tinyshakespeare"], "is a text corpus"),
    ],
)  # fmt: skip
def test_dry_run_refuses_what_the_run_refuses_and_no_folder_is_made(theta_main, tmp_path, flags,
                                                                    needle):  # fmt: skip
    run = tmp_path / "run"
    dry = theta_main(*IRIS, *flags, "--dry-run")
    real = theta_main(*IRIS, *flags, "--out", run)
    assert dry[0] == real[0] != 0 and needle in dry[2] and dry[2] == real[2]
    assert not run.exists()


def test_diverged_run_saves_last_good_model_and_is_replaced_by_a_rerun(theta_main, tmp_path):
    run = tmp_path / "run"
    line = ("train", "--data", "line", "--steps", "50", "--quiet", "--out", run)
    code, _, err = theta_main(*line, "--optimizer", "sgd", "--lr", "10")
    assert code == 1 and "The parameters from the last good step were kept" in err
    assert f"They are saved in {run / 'model'}" in err
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert "exploded" in json.loads((run / "summary.json").read_text())["stopped_reason"]
    weights = model_tensors(run)
    assert all(np.isfinite(w).all() for w in weights.values())
    assert theta_main("predict", run, "10")[0] == 0
    code, _, err = theta_main(*line)  # the corrected command, with no --overwrite
    assert code == 0 and f"theta: replacing the failed run in {run}" in err


# --- item 9: Ctrl-C saves a usable run that predict and report read, and --resume finishes ----


def _ctrl_c_after_first_checkpoint(args, run):
    """Run ``theta ARGS`` in a child process, press Ctrl-C once ``run`` has its first
    checkpoint, and return the exit code and stderr."""
    child = subprocess.Popen([sys.executable, "-m", "theta", *args], stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoint.safetensors").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    return child.returncode, err


@pytest.mark.slow
def test_ctrl_c_saves_a_usable_run_that_resume_finishes(theta_main, tmp_path):
    run, whole = tmp_path / "run", tmp_path / "whole"
    args = ("train", "--data", "digits", "--hidden", "8", "--steps", "3000", "--quiet",
            "--checkpoint-every", "20")  # fmt: skip
    returncode, err = _ctrl_c_after_first_checkpoint([*args, "--out", str(run)], run)
    assert returncode == 130, err
    step = json.loads((run / "summary.json").read_text())["steps"]
    assert 0 < step < 3000
    assert err == (
        f"theta: interrupted at step {step}; checkpoint saved to {run / 'checkpoint.safetensors'} "
        f"and the model trained so far to {run / 'model'} (predict, generate and report work "
        f"on it); resume with: theta train --out {run} --resume\n"
    )
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    code, out, _ = theta_main("predict", run, ",".join(["0"] * 64))
    assert code == 0 and out.strip() in [str(d) for d in range(10)]
    assert theta_main("report", run)[0] == 0
    code, _, err = theta_main("train", "--out", run, "--resume", "--quiet")  # the printed command
    assert code == 0, err
    assert json.loads((run / "run.json").read_text())["status"] == "done"
    assert theta_main(*args, "--out", whole)[0] == 0
    assert_same_run(whole, run)


@pytest.mark.slow
def test_ctrl_c_leaves_a_gpt_run_that_generate_and_report_read(theta_main, tmp_path):
    run = tmp_path / "gpt"
    args = ("train", "--model", "gpt", "--n-layer", "1", "--n-heads", "2", "--n-embd", "16",
            "--block-size", "16", "--eval-every", "50", "--eval-windows", "8", "--batch-size",
            "4", "--steps", "100000", "--checkpoint-every", "10", "--quiet", "--out",
            str(run))  # fmt: skip
    returncode, err = _ctrl_c_after_first_checkpoint(args, run)
    assert returncode == 130 and "resume with: theta train --out" in err, err
    code, out, _ = theta_main("generate", run, "--prompt", "To", "--max-new-tokens", "5")
    assert code == 0 and out.startswith("To") and len(out) == 8
    assert theta_main("report", run)[0] == 0


# --- item 21: one clear line for damaged run files and config files --------------------------


@pytest.fixture
def iris_run(theta_main, tmp_path):
    run = tmp_path / "iris"
    assert theta_main(*IRIS, "--out", run)[0] == 0
    return run


def test_predict_with_too_few_class_names_names_the_file(theta_main, iris_run):
    where = iris_run / "preprocessing.safetensors"
    arrays, meta = read_tensors(where)
    write_tensors(where, arrays, {**meta, "target_names": '["setosa"]'})
    code, _, err = theta_main("predict", iris_run, "5.1,3.5,1.4,0.2")
    assert code == 1 and err == (
        f"theta: error: {where}: lists 1 class names, but the model has 3 outputs; the run "
        "folder is damaged\n"
    )


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda a, m: ({"mean": a["mean"]}, m), "missing tensor 'scale'"),
        (lambda a, m: ({**a, "scale": a["scale"][:2]}, m), "must be vectors of one length"),
        (lambda a, m: (a, {**m, "target_names": "{"}), "target_names must be a JSON list"),
        (lambda a, m: (a, {**m, "task": "poetry"}), "task must be classification or regression"),
    ],
)  # fmt: skip
def test_damaged_preprocessing_is_one_line_naming_the_file(theta_main, iris_run, change, needle):
    where = iris_run / "preprocessing.safetensors"
    write_tensors(where, *change(*read_tensors(where)))
    code, _, err = theta_main("predict", iris_run, "5.1,3.5,1.4,0.2")
    assert code == 1 and err.startswith(f"theta: error: {where}: ") and needle in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"lr = 0.1\n# caf\xe9\n", "not UTF-8 text, as TOML must be (byte 14 is b'\\xe9')"),
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"lr = \n", "Invalid value"),
        (b"lr = 'fast'\n", "config key 'lr': must be a float in the range (0, inf). Got 'fast' "
                           "instead."),
        (b"standardize = 1\n", "config key 'standardize': must be an instance of 'bool'. Got 1 "
                               "instead."),
        (b"lrr = 0.1\n", "unknown config key 'lrr'; did you mean 'lr'?"),
    ],
)  # fmt: skip
def test_bad_toml_is_a_usage_error_naming_the_file(theta_main, tmp_path, content, needle):
    path = tmp_path / "run.toml"
    path.write_bytes(content)
    code, _, err = theta_main("train", "--config", path, "--dry-run")
    assert code == 2 and needle in err and "Traceback" not in err
    assert err.splitlines()[-1].startswith("theta: error: ")


def test_missing_toml_names_the_file(theta_main, tmp_path):
    code, _, err = theta_main("train", "--config", tmp_path / "nope.toml", "--dry-run")
    assert code == 1 and str(tmp_path / "nope.toml") in err


def test_what_a_killed_replace_left_of_a_run_goes_with_the_next_claim(tmp_path):
    from theta.cli.runs import claim_run_dir
    from theta.tensorfile import _machine

    half_deleted = tmp_path / f".run.999999999.{_machine()}-1.0a1b2c3d.tmp"  # its writer is gone
    (half_deleted / "model").mkdir(parents=True)
    (half_deleted / "metrics.csv").write_text("epoch,loss\n")
    run = claim_run_dir(tmp_path / "run", overwrite=False, kind="train")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]


def test_nan_weights_in_a_run_warn_and_check_finite_refuses_them(tmp_path, theta_main):
    run = tmp_path / "line"
    assert theta_main("train", "--out", run, "--quiet")[0] == 0
    weights = run / "model" / "model.safetensors"
    tensors, metadata = read_tensors(weights)
    tensors["weight"][...] = np.nan
    write_tensors(weights, tensors, metadata)
    with pytest.warns(UserWarning, match="NaN"):
        code, out, _ = theta_main("predict", run, "10")
    assert code == 0 and out.strip() == "nan"
    code, _, err = theta_main("predict", run, "10", "--check-finite")
    assert code == 1 and "model.safetensors" in err and "NaN" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
