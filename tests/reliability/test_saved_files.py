"""Saved files (theta.io folders, tensorfile writes) under overwrite, kill -9, crafted configs
and damaged bytes: nothing foreign is deleted, nothing is left behind, nothing runs, nothing
is allocated on a file's say-so, and no damaged byte loads silently."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import theta
from theta import io, tensorfile
from theta.errors import CheckpointError
from theta.nn import MLP, Linear
from theta.params import Params


def _hidden(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


def _same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(np.array_equal(sa[k], sb[k]) for k in sa)


class Fitted(Params):
    """A learner with a module, a private declared attribute and a property ending in '_'."""

    __theta_state_names__ = ("_memory",)

    def __init__(self, width=2, loss=None):
        self.width = width
        self.loss = loss

    def fit(self):
        self.model_ = MLP((self.width, 3, 1), rng=0)
        self.coef_ = np.arange(3.0)
        self._memory = np.ones(2)
        return self

    @property
    def total_(self):
        return float(self.coef_.sum())

    def predict(self, X):
        return np.asarray(X) @ self.coef_


def _edit_config(folder, edit):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


# --- item 1: overwrite replaces only what that save wrote --------------------------------------


def test_overwrite_refuses_folder_holding_other_saved_models(tmp_path):
    first, second = MLP((2, 3, 1), rng=0), MLP((2, 4, 1), rng=1)
    (tmp_path / "runs").mkdir()
    io.save(first, tmp_path / "runs" / "a")
    io.save(second, tmp_path / "runs" / "b")
    with pytest.raises(FileExistsError, match="holds 'a', which save did not write") as info:
        io.save(MLP((2, 1), rng=2), tmp_path / "runs", overwrite=True)
    assert info.value.filename == str(tmp_path / "runs")
    assert _same_model(io.load(tmp_path / "runs" / "a"), first)
    assert _same_model(io.load(tmp_path / "runs" / "b"), second)


def test_overwrite_refuses_folder_holding_only_a_users_config(tmp_path):
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "config.json").write_text('{"lr": 0.1}')
    with pytest.raises(FileExistsError, match="holds 'config.json'.*theta's format field"):
        io.save(MLP((2, 1), rng=0), folder, overwrite=True)
    assert (folder / "config.json").read_text() == '{"lr": 0.1}'


def test_overwrite_refuses_model_folder_unlisted_by_the_learners_config(tmp_path):
    folder = tmp_path / "learner"
    io.save(Fitted().fit(), folder)
    io.save(MLP((2, 5, 1), rng=3), folder / "other_model")
    with pytest.raises(FileExistsError, match="holds 'other_model'.*does not list it"):
        io.save(Fitted(width=3).fit(), folder, overwrite=True)
    assert (folder / "other_model" / "model.safetensors").exists()


def test_overwrite_refuses_a_foreign_file_inside_a_listed_model_folder(tmp_path):
    folder = tmp_path / "learner"
    io.save(Fitted().fit(), folder)
    (folder / "model_" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"holds 'model_/notes.txt'"):
        io.save(Fitted(width=3).fit(), folder, overwrite=True)
    assert (folder / "model_" / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_what_save_wrote(tmp_path):
    io.save(Fitted().fit(), tmp_path / "learner")
    io.save(Fitted(width=3).fit(), tmp_path / "learner", overwrite=True)
    assert io.load(tmp_path / "learner").model_.layers[0].weight.shape == (3, 3)
    (tmp_path / "empty").mkdir()
    io.save(MLP((2, 1), rng=0), tmp_path / "empty", overwrite=True)
    assert sorted(os.listdir(tmp_path / "empty")) == ["config.json", "model.safetensors"]


# --- item 4: a killed write leaves nothing the next write or load does not remove ---------------

_KILLED_WRITER = """
import os, pathlib, sys, time
import numpy as np
from theta import io, tensorfile
from theta.nn import MLP

kind, path, ready = sys.argv[1:]

def stall(fd):  # the data is written; die before the rename
    pathlib.Path(ready).touch()
    time.sleep(120)

os.fsync = stall
if kind == "save":
    io.save(MLP((64, 256, 64), rng=1), path, overwrite=True)
elif kind == "tensors":
    tensorfile.write_tensors(path, {"w": np.full(100_000, 2.0)})
else:
    tensorfile.atomic_write_text(path, "new\\n")
"""


def _kill_mid_write(kind, path, tmp_path):
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, kind, str(path), str(ready)])
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, "the writer exited before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


@pytest.mark.parametrize("next_step", ["load", "save"])
def test_killed_save_leaves_no_temporaries_after_next_load_or_save(tmp_path, next_step):
    previous = MLP((64, 256, 64), rng=0)
    io.save(previous, tmp_path / "model")
    (tmp_path / "sub").mkdir()
    _kill_mid_write("save", tmp_path / "model", tmp_path / "sub")
    assert _hidden(tmp_path), "the killed save left no temporary to clean"
    if next_step == "load":
        assert _same_model(io.load(tmp_path / "model"), previous)
    else:
        io.save(MLP((2, 1), rng=0), tmp_path / "model", overwrite=True)
        assert io.load(tmp_path / "model").layers[0].weight.shape == (1, 2)
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("kind", ["tensors", "text"])
def test_killed_file_write_leaves_no_temporary_after_next_write(tmp_path, kind):
    path = tmp_path / ("w.safetensors" if kind == "tensors" else "trial.json")
    if kind == "tensors":
        tensorfile.write_tensors(path, {"w": np.ones(3)})
    else:
        tensorfile.atomic_write_text(path, "old\n")
    (tmp_path / "sub").mkdir()
    _kill_mid_write(kind, path, tmp_path / "sub")
    assert _hidden(tmp_path), "the killed write left no temporary to clean"
    if kind == "tensors":
        assert np.array_equal(tensorfile.read_tensors(path)[0]["w"], np.ones(3))
        tensorfile.write_tensors(path, {"w": np.zeros(3)})
    else:
        assert path.read_text() == "old\n"
        tensorfile.atomic_write_text(path, "newer\n")
    assert _hidden(tmp_path) == []


def test_a_live_writers_temporaries_are_kept(tmp_path):
    target = tmp_path / "w.safetensors"
    ours = tensorfile._temporary_name(str(target))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stamp = tensorfile._writer_stamp(sleeper.pid)
        theirs = tmp_path / f".w.safetensors.{sleeper.pid}.{stamp}.0123abcd.tmp"
        # the same pid with another start time is a reused pid: that writer is gone
        reused = tmp_path / f".w.safetensors.{sleeper.pid}.{stamp.split('-')[0]}-1.0123abcd.tmp"
        for name in (ours, theirs, reused):
            open(name, "wb").close()
        tensorfile.remove_stale_temporaries(target)
        assert _hidden(tmp_path) == sorted([os.path.basename(ours), theirs.name])
    finally:
        sleeper.kill()
        sleeper.wait()
    tensorfile.remove_stale_temporaries(target)
    assert _hidden(tmp_path) == [os.path.basename(ours)]


def test_a_folder_set_aside_by_a_killed_replace_is_put_back(tmp_path):
    model = MLP((2, 3, 1), rng=0)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    aside = f".model.{gone.stdout.strip()}.{tensorfile._machine()}-1.0123abcd.old"
    io.save(model, tmp_path / aside)  # as if killed between moving it aside and the new one in
    assert _same_model(io.load(tmp_path / "model"), model)
    assert sorted(os.listdir(tmp_path)) == ["model"]


# --- item 17: state restores only what the class declares ---------------------------------------


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c["state"].update(predict={"type": "function", "name": "theta.cli.main"}),
         r"at config.state: 'predict' is not fitted state of Fitted"),
        (lambda c: c["state"].update(fit={"type": "tuple", "items": []}),
         r"'fit' is not fitted state"),
        (lambda c: c["state"].update(total_=1.0), r"'total_' would hide Fitted.total_"),
        (lambda c: c["state"].update(_hook=1), r"'_hook' is not fitted state.*__theta_state_names"),
        (lambda c: c["state"].update(coef_={"type": "function", "name": "theta.losses.mse"}),
         r"state.coef_: 'coef_' holds 'theta.losses.mse'.*__theta_callables__"),
        (lambda c: c["state"].update(coef_=[{"type": "type", "name": "theta.nn.layers.Linear"}]),
         r"'coef_' holds 'theta.nn.layers.Linear'"),
        (lambda c: c["params"].update(loss={"type": "function", "name": "theta.cli.main"}),
         r"'theta.cli.main' is not a function of theta's"),
        (lambda c: c["params"].update(loss={"type": "type", "name": "theta.train.loop.Trainer"}),
         r"'theta.train.loop.Trainer' is not a NumPy scalar type"),
    ],
)  # fmt: skip
def test_crafted_state_cannot_replace_methods_or_smuggle_callables(tmp_path, edit, match):
    folder = tmp_path / "learner"
    io.save(Fitted().fit(), folder)
    _edit_config(folder, edit)
    with pytest.raises(CheckpointError, match=match) as info:
        io.load(folder)
    assert str(folder / "config.json") in str(info.value)


def test_save_refuses_state_that_load_would_refuse(tmp_path):
    learner = Fitted().fit()
    learner._cache = {"x": 1}
    with pytest.raises(TypeError, match=r"Fitted._cache: '_cache' is not fitted state"):
        io.save(learner, tmp_path / "a")
    del learner._cache
    learner.scorer_ = theta.losses.mse
    with pytest.raises(TypeError, match=r"'scorer_' holds 'theta.losses.mse'"):
        io.save(learner, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_declared_private_state_and_theta_functions_in_params_round_trip(tmp_path):
    learner = Fitted(loss=theta.losses.mse).fit()
    io.save(learner, tmp_path / "learner")
    again = io.load(tmp_path / "learner")
    assert again.loss is theta.losses.mse
    assert np.array_equal(again._memory, learner._memory) and again.total_ == 3.0


# --- item 18: a config is checked against the weights before anything big is built -----------

# The peak is this process's VmHWM: getrusage's ru_maxrss keeps the high-water mark of the
# process that forked it (pytest's, hundreds of MB) across exec.
_HUGE_CONFIG = """
import re, sys
from theta import io
from theta.errors import CheckpointError
try:
    io.load(sys.argv[1])
except CheckpointError as exc:
    print("refused:", exc)
status = open("/proc/self/status").read()
print("peak_mb", int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1]) // 1024)
"""


@pytest.mark.parametrize("size", [40_000, 4_000_000])
def test_config_implying_a_huge_model_is_refused_without_allocating(tmp_path, size):
    folder = tmp_path / "linear"
    io.save(Linear(4, 3, rng=0), folder)
    _edit_config(folder, lambda c: c["hyperparameters"].update(in_features=size,
                                                                out_features=size))  # fmt: skip
    result = subprocess.run([sys.executable, "-c", _HUGE_CONFIG, str(folder)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "MemoryError" not in result.stdout + result.stderr
    assert "refused:" in result.stdout and str(folder) in result.stdout
    assert "needs more parameters than" in result.stdout  # stopped by the parameter budget
    peak = int(result.stdout.split("peak_mb")[1])
    assert peak < 400, f"loading a refused config peaked at {peak} MB"


# --- checksum: damaged bytes never load silently ------------------------------------------------


def _data_start(path):
    with open(path, "rb") as f:
        return 8 + int.from_bytes(f.read(8), "little")


def test_every_flipped_bit_in_the_data_region_is_refused_naming_checksum(tmp_path):
    io.save(MLP((8, 16, 4), rng=0), tmp_path / "model")
    weights = tmp_path / "model" / "model.safetensors"
    original = weights.read_bytes()
    start = _data_start(weights)
    rng = np.random.default_rng(0)
    flips = rng.integers(start * 8, len(original) * 8, size=200)
    for bit in flips:
        damaged = bytearray(original)
        damaged[bit // 8] ^= 1 << (bit % 8)
        weights.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match=r"model.safetensors is corrupted: .*checksum"):
            io.load(tmp_path / "model")
    assert io.load(tmp_path / "model", checksum=False).layers[0].weight.shape == (16, 8)


def test_files_without_a_checksum_load_and_pytorch_reads_theta_files(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "w.safetensors"
    safetensors_torch.save_file({"w": torch.arange(4.0)}, str(path))
    assert io.load_state_dict(path)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    tensorfile.write_tensors(path, {"w": np.arange(4.0)}, {"step": "3"})
    assert safetensors_torch.load_file(str(path))["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert tensorfile.read_tensors(path)[1] == {"step": "3"}
    with pytest.raises(ValueError, match="'theta.sha256' is theta's own"):
        tensorfile.write_tensors(path, {"w": np.ones(1)}, {"theta.sha256": "0" * 64})


def test_checksum_is_written_and_verified_for_checkpoints_too(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    tensorfile.write_tensors(path, {"w": np.arange(6.0)})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"ckpt.safetensors is corrupted.*checksum"):
        tensorfile.read_tensors(path)
    assert tensorfile.read_tensors(path, checksum=False)[0]["w"][-1] != 5.0


def test_unchecked_writes_record_no_checksum(tmp_path):
    path = tmp_path / "w.safetensors"
    tensorfile.write_tensors(path, {"w": np.ones(2)}, checksum=False)
    header = path.read_bytes()[8 : _data_start(path)].decode()
    assert "sha256" not in header


def test_config_asking_for_100000_gpt_layers_stops_at_the_first_parameter_over_the_file(tmp_path):
    from theta.models import GPT, GPTConfig

    folder = tmp_path / "gpt"
    io.save(GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_heads=2, n_embd=16), rng=0),
            folder)  # fmt: skip
    _edit_config(folder, lambda c: c["hyperparameters"].update(n_layer=100_000))
    with pytest.raises(CheckpointError, match="needs more parameters than .*model.safetensors"):
        io.load(folder)
