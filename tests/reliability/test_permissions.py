"""Permission errors on real files, on every machine: as root (CI), the code under test runs as
the user ``nobody`` (the ``unprivileged`` fixture) instead of the test skipping."""

import numpy as np
import pytest

from theta import io
from theta.nn import MLP
from theta.tensorfile import atomic_write_text, read_tensors, write_tensors

pytestmark = pytest.mark.skipif(__import__("os").name != "posix", reason="POSIX permissions")


def test_unreadable_tensor_file_raises_permission_error_naming_it(shared_tmp_path, unprivileged):
    path = shared_tmp_path / "secret.safetensors"
    write_tensors(path, {"w": np.ones(2)})
    path.chmod(0)
    with pytest.raises(PermissionError, match="secret.safetensors"):
        unprivileged(read_tensors, path)


def test_read_only_folder_refuses_tensor_and_text_writes_leaving_it_empty(shared_tmp_path,
                                                                         unprivileged):  # fmt: skip
    shared_tmp_path.chmod(0o555)
    with pytest.raises(PermissionError, match="out.safetensors"):
        unprivileged(write_tensors, shared_tmp_path / "out.safetensors", {"w": np.ones(3)})
    with pytest.raises(PermissionError, match="config.json"):
        unprivileged(atomic_write_text, shared_tmp_path / "config.json", "{}")
    assert list(shared_tmp_path.iterdir()) == []


def test_save_into_read_only_folder_names_the_path_and_keeps_the_model(shared_tmp_path,
                                                                       unprivileged):  # fmt: skip
    model = MLP((2, 3, 1), rng=0)
    before = model.state_dict()
    shared_tmp_path.chmod(0o555)
    with pytest.raises(PermissionError, match="mlp"):
        unprivileged(io.save, model, shared_tmp_path / "mlp")
    assert list(shared_tmp_path.iterdir()) == []
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_of_unreadable_model_folder_names_the_path(shared_tmp_path, unprivileged):
    io.save(MLP((2, 3, 1), rng=0), shared_tmp_path / "mlp")
    (shared_tmp_path / "mlp").chmod(0)
    with pytest.raises(PermissionError, match="mlp"):
        unprivileged(io.load, shared_tmp_path / "mlp")


def test_the_fixture_really_drops_root(shared_tmp_path, unprivileged):
    """Guards the guard: as root, the child must not be able to read a mode-0 file."""
    path = shared_tmp_path / "closed"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(PermissionError):
        unprivileged(path.read_text)


def test_train_into_read_only_folder_exits_1_naming_the_path(shared_tmp_path, unprivileged,
                                                             capfd):  # fmt: skip
    from theta.cli import main

    shared_tmp_path.chmod(0o555)
    code = unprivileged(main, ["train", "--out", str(shared_tmp_path / "run"), "--quiet"])
    assert code == 1
    err = capfd.readouterr().err
    assert "run" in err and "Traceback" not in err
    assert list(shared_tmp_path.iterdir()) == []
