"""theta.io with learners: every estimator round-trips exactly, in this process and a fresh one;
files that name unknown classes, foreign modules or odd values are refused without running code.
"""

import errno
import inspect
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import theta
from theta import io
from theta.data import load_diabetes, load_iris
from theta.errors import CheckpointError, ConvergenceWarning
from theta.estimators import (
    ClassifierMixin,
    ClusterMixin,
    RegressorMixin,
    TransformerMixin,
    all_estimators,
)
from theta.io import learners as io_learners
from theta.nn import MLP, Module
from theta.params import Params

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
}

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_REG, Y_REG = load_diabetes(return_X_y=True)
X_REG, Y_REG = X_REG[:120], Y_REG[:120]
NAMES = np.array(["setosa", "versicolor", "virginica"])
QUICK = {"max_iter": 30, "epochs": 3, "n_init": 2, "random_state": 0}  # where a learner has them
METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples", "kneighbors")  # fmt: skip


def _cases() -> list[tuple[str, type, str]]:
    """(id, class, data) for every estimator all_estimators() finds right now."""
    cases = []
    for cls in all_estimators():
        if issubclass(cls, ClassifierMixin):
            kinds = ["int_labels", "str_labels"]
        elif issubclass(cls, RegressorMixin):
            kinds = ["regression"]
        elif issubclass(cls, ClusterMixin | TransformerMixin):
            kinds = ["unsupervised"]
        else:
            kinds = ["int_labels"]
        cases += [(f"{cls.__name__}-{kind}", cls, kind) for kind in kinds]
    return cases


CASES = _cases()


def _data(kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    if kind == "regression":
        return X_REG, Y_REG
    if kind == "unsupervised":
        return X_IRIS, None
    return X_IRIS, (NAMES[Y_IRIS] if kind == "str_labels" else Y_IRIS)


def _fitted(cls: type, kind: str) -> Params:
    estimator = cls()
    names = estimator.get_params(deep=False)
    estimator.set_params(**{k: v for k, v in QUICK.items() if k in names})
    X, y = _data(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X) if y is None else estimator.fit(X, y)


def compute_outputs(learner, X):
    """{name: ndarray} of every prediction method ``learner`` has, on ``X``."""
    import numpy as np

    out = {}
    for method in METHODS:
        try:
            function = getattr(learner, method)
        except AttributeError:
            continue
        result = function(X)
        for i, part in enumerate(result if isinstance(result, tuple) else (result,)):
            out[f"{method}.{i}"] = np.asarray(part)
        if method == "transform" and hasattr(learner, "inverse_transform"):
            out["inverse_transform.0"] = np.asarray(learner.inverse_transform(result))
    return out


SUBPROCESS = """
import json, sys, traceback, warnings
import numpy as np
from theta import io
METHODS = {methods!r}
{compute_outputs}
root = sys.argv[1]
X = {{kind: np.load(f"{{root}}/X_{{kind}}.npy") for kind in ("iris", "regression")}}
for case, kind in json.loads(sys.argv[2]):
    try:
        learner = io.load(f"{{root}}/{{case}}")
        outputs = compute_outputs(learner, X["regression" if kind == "regression" else "iris"])
        for name, value in outputs.items():
            np.save(f"{{root}}/{{case}}.{{name}}.npy", value, allow_pickle=False)
        params = {{k: repr(v) for k, v in learner.get_params(deep=False).items()}}
        with open(f"{{root}}/{{case}}.params.json", "w") as f:
            json.dump(params, f)
    except Exception:
        with open(f"{{root}}/{{case}}.error.txt", "w") as f:
            f.write(traceback.format_exc())
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every case fitted and saved, and its outputs computed by a fresh process from the files.

    Returns {case id: (fitted learner, folder, error)}: error is the TypeError save raised,
    which fails that case's test (a learner theta ships that cannot be saved is a bug).
    """
    root = tmp_path_factory.mktemp("learners")
    np.save(root / "X_iris.npy", X_IRIS)
    np.save(root / "X_regression.npy", X_REG)
    out, loadable = {}, []
    for case, cls, kind in CASES:
        learner = _fitted(cls, kind)
        try:
            io.save(learner, root / case)
        except TypeError as exc:
            out[case] = (learner, root / case, exc)
            continue
        out[case] = (learner, root / case, None)
        loadable.append((case, kind))
    script = SUBPROCESS.format(methods=METHODS, compute_outputs=inspect.getsource(compute_outputs))
    subprocess.run([sys.executable, "-c", script, str(root), json.dumps(loadable)], env=ENV,
                   check=True, timeout=600)  # fmt: skip
    return out


def assert_same(a, b, where="learner"):
    """``a`` and ``b`` are equal values of the same types, arrays to the bit (NaN == NaN)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}"
        if a.dtype.kind == "O":
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                assert_same(x, y, f"{where}[{i}]")
        else:
            assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
        assert a.flags.f_contiguous == b.flags.f_contiguous or a.ndim < 2, f"{where}: layout"
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, Module):  # a module's tuple hyperparameters come back as lists
        assert repr(a).replace("(", "[").replace(")", "]") == repr(b).replace("(", "[").replace(
            ")", "]"), where  # fmt: skip
        assert_same(a.state_dict(), b.state_dict(), f"{where}.state_dict()")
    elif isinstance(a, Params):
        assert_same(vars(a), vars(b), where)
    elif isinstance(a, np.random.Generator):
        assert_same(a.bit_generator.state, b.bit_generator.state, where)
    elif hasattr(a, "__theta_state__"):
        assert_same(a.__theta_state__(), b.__theta_state__(), where)
    elif isinstance(a, float | np.floating) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_every_estimator_round_trips_exactly(saved, case):
    learner, folder, error = saved[case]
    if error is not None:
        pytest.fail(f"{case}: io.save refused it: {error}")
    again = io.load(folder)
    assert type(again) is type(learner)
    assert_same(learner.get_params(deep=False), again.get_params(deep=False), "get_params()")
    assert_same(vars(learner), vars(again), case)
    X = X_REG if case.endswith("regression") else X_IRIS
    expected = compute_outputs(learner, X)
    assert expected, f"{case} has none of {METHODS}"
    assert_same(compute_outputs(again, X), expected, f"{case} outputs")
    # the same outputs from a fresh process that imported nothing but theta.io
    error = Path(f"{folder}.error.txt")
    assert not error.exists(), f"loading {case} in a fresh process failed:\n{error.read_text()}"
    for name, value in expected.items():
        fresh = np.load(f"{folder}.{name}.npy", allow_pickle=False)
        assert fresh.dtype == value.dtype and np.array_equal(fresh, value), f"{case}: {name}"
    fresh_params = json.loads(Path(f"{folder}.params.json").read_text())
    assert fresh_params == {k: repr(v) for k, v in learner.get_params(deep=False).items()}


@pytest.mark.parametrize("cls", all_estimators(), ids=lambda cls: cls.__name__)
def test_unfitted_estimators_save_their_params_only(tmp_path, cls):
    estimator = cls()
    io.save(estimator, tmp_path / "e")
    again = io.load(tmp_path / "e")
    assert type(again) is cls and vars(again).keys() == vars(estimator).keys()
    assert_same(estimator.get_params(deep=False), again.get_params(deep=False))
    assert sorted(os.listdir(tmp_path / "e")) == ["config.json", "state.safetensors"]


# --- learners of every shape: custom classes, hooks, modules, faiss ----------------------------


class Holder(Params):
    """A learner with one hyperparameter of each kind JSON alone would get wrong."""

    __theta_state_names__ = ("_fit_X",)  # fitted state whose name does not end in "_"
    __theta_callables__ = ("types_",)  # fitted state that may hold a class

    def __init__(self, sizes=(3, 2), *, weights=None, seed=None, module=None, loss=None):
        self.sizes = sizes
        self.weights = weights
        self.seed = seed
        self.module = module
        self.loss = loss


class Counter:
    """Not a learner, but savable through the theta.io hooks."""

    def __init__(self, counts):
        self.counts = counts

    def __theta_state__(self):
        return {"counts": self.counts}

    @classmethod
    def __theta_restore__(cls, state):
        return cls(state["counts"])


def _rich_holder() -> Holder:
    holder = Holder(weights={0: 1.0, 2: 0.5}, seed=np.random.default_rng(7),
                    module=MLP((2, 3, 1), rng=0), loss=theta.losses.mse)  # fmt: skip
    holder.coef_ = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    holder.alias_ = holder.coef_  # one array held twice stays one array
    holder.classes_ = np.array(["ant", "bee", "cat"])
    holder.codes_ = np.array([b"\x00a", b"\xff"])
    holder.objects_ = np.array(["x", 1, None, 2.5], dtype=object)
    holder.half_ = np.ones(3, np.float16)
    holder.complex_ = np.array([1 + 2j, -0.5j])
    holder.flags_ = np.array([True, False])
    holder.n_iter_ = np.int32(12)
    holder.best_ = np.float32(0.25)
    holder.label_ = np.str_("bee")
    holder.loss_ = float("nan")
    holder.worst_ = -math.inf
    holder.big_ = 2**100
    holder.history_ = [1, (2.0, "three"), {"a": [None, True]}, {4, 5}, frozenset({6})]
    holder.model_ = MLP((2, 2), rng=1, dtype=np.float64)
    holder.same_model_ = holder.model_
    holder.rng_ = np.random.Generator(np.random.MT19937(3))
    holder.inner_ = Holder(sizes=(1,))
    holder.inner_.fitted_ = np.zeros((0, 4))
    holder._fit_X = np.arange(12, dtype=np.int64).reshape(4, 3)
    holder.counter_ = Counter(np.array([3, 1, 4]))
    holder.dtypes_ = [np.dtype("float32"), np.dtype(">i2"), np.dtype("<U7"), np.dtype(object)]
    holder.types_ = [np.float64, np.int8, np.bool_, float, str, theta.nn.Linear]
    return holder


def test_a_learner_holding_every_supported_kind_of_value_round_trips(tmp_path):
    holder = _rich_holder()
    io.save(holder, tmp_path / "h")
    assert sorted(os.listdir(tmp_path / "h")) == [
        "config.json", "model_", "module", "state.safetensors"]  # fmt: skip
    again = io.load(tmp_path / "h")
    assert_same(vars(holder), vars(again))
    assert again.sizes == (3, 2) and again.weights == {0: 1.0, 2: 0.5}
    assert again.loss is theta.losses.mse
    assert again.alias_ is again.coef_ and again.same_model_ is again.model_
    assert isinstance(again.counter_, Counter) and again.counter_.counts.tolist() == [3, 1, 4]
    assert again.seed.random() == holder.seed.random()  # the generator continues its stream
    assert again.rng_.integers(1000) == holder.rng_.integers(1000)


def test_classes_defined_outside_theta_need_their_module_imported(tmp_path):
    io.save(Holder(sizes=(5,)), tmp_path / "h")
    assert io.load(tmp_path / "h").sizes == (5,)  # this module is imported: found by name
    probe = f"from theta import io\nio.load({str(tmp_path / 'h')!r})"
    result = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode != 0
    assert "CheckpointError" in result.stderr and "unknown learner class" in result.stderr
    assert "import the module that defines it" in result.stderr


def test_theta_classes_are_found_in_a_fresh_process_without_imports(tmp_path):
    estimator = all_estimators()[0]()
    io.save(estimator, tmp_path / "e")
    probe = (f"import sys\nfrom theta import io\nprint(type(io.load({str(tmp_path / 'e')!r}))"
             ".__name__)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == type(estimator).__name__


def test_a_module_hyperparameter_and_the_trained_copy_are_model_folders(tmp_path):
    from theta.estimators.neural import ModuleRegressor

    start = MLP((10, 4, 1), rng=0, dtype=np.float64)
    regressor = ModuleRegressor(start, epochs=2, random_state=0).fit(X_REG, Y_REG)
    io.save(regressor, tmp_path / "r")
    assert {"module", "model_"} <= set(os.listdir(tmp_path / "r"))
    again = io.load(tmp_path / "r")
    assert_same(regressor.module, again.module)
    assert np.array_equal(again.predict(X_REG), regressor.predict(X_REG))
    assert io.load(tmp_path / "r" / "model_").state_dict().keys() == start.state_dict().keys()


@pytest.mark.parametrize("kind", ["IndexHNSWFlat", "IndexIVFPQ"])
def test_a_fitted_faiss_index_round_trips(tmp_path, kind):
    faiss = pytest.importorskip("faiss")
    data = np.random.default_rng(0).standard_normal((2000, 8)).astype(np.float32)
    holder = Holder()
    if kind == "IndexHNSWFlat":
        holder.index_ = faiss.IndexHNSWFlat(8, 16)
    else:
        holder.quantizer_ = faiss.IndexFlatL2(8)
        holder.index_ = faiss.IndexIVFPQ(holder.quantizer_, 8, 16, 4, 4)
        holder.index_.train(data)
    holder.index_.add(data)
    io.save(holder, tmp_path / "h")
    again = io.load(tmp_path / "h")
    assert type(again.index_).__name__ == kind and again.index_.ntotal == 2000
    for a, b in zip(holder.index_.search(data[:20], 5), again.index_.search(data[:20], 5),
                    strict=True):  # fmt: skip
        assert np.array_equal(a, b)
    _edit_state(tmp_path / "h", lambda t: t.update(index_=t["index_"][:40]))
    with pytest.raises(CheckpointError, match="faiss cannot read the index"):
        io.load(tmp_path / "h")


@pytest.mark.parametrize("algorithm", ["hnsw", "ivfpq"])
def test_approximate_knn_round_trips_with_its_index(tmp_path, algorithm):
    pytest.importorskip("faiss")
    neighbors = pytest.importorskip("theta.estimators.neighbors")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    knn = neighbors.KNeighborsClassifier(n_neighbors=5, algorithm=algorithm)
    if "random_state" in knn.get_params():
        knn.set_params(random_state=0)
    knn.fit(X, y)
    io.save(knn, tmp_path / "knn")
    again = io.load(tmp_path / "knn")
    for a, b in zip(knn.kneighbors(X[:50]), again.kneighbors(X[:50]), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(knn.predict(X[:50]), again.predict(X[:50]))
    np.save(tmp_path / "X.npy", X[:50])
    probe = textwrap.dedent(f"""
        import numpy as np
        from theta import io
        knn = io.load({str(tmp_path / "knn")!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        np.save({str(tmp_path / "ind.npy")!r}, knn.kneighbors(X)[1])
    """)
    subprocess.run([sys.executable, "-c", probe], env=ENV, check=True, timeout=300)
    assert np.array_equal(np.load(tmp_path / "ind.npy"), knn.kneighbors(X[:50])[1])


# --- refusals when saving ----------------------------------------------------------------------


def _user_loss(pred, y):
    return pred


@pytest.mark.parametrize(
    "value, match",
    [
        (threading.Lock(), r"Holder\.thing_ is a _thread\.lock"),
        (lambda x: x, r"Holder\.thing_ is a builtins\.function"),
        (_user_loss, r"Holder\.thing_ is a builtins\.function"),
        (object(), r"Holder\.thing_ is a builtins\.object"),
        ([1, {"k": object()}], r"Holder\.thing_\.1\.k is a builtins\.object"),
        (np.zeros(2, dtype="datetime64[ns]"), r"Holder\.thing_ is an array of dtype datetime64"),
        (np.zeros(2, dtype=np.longdouble), r"Holder\.thing_ is an array of dtype float128"),
        (np.ma.masked, r"Holder\.thing_ is a numpy\.ma\.core\.MaskedConstant"),
        (np.array([object()], dtype=object), r"Holder\.thing_\.0 is a builtins\.object"),
        (Holder, r"Holder\.thing_ is a builtins\.type"),
        (np.dtype([("a", "f8")]), r"Holder\.thing_ is a numpy\.dtypes\.VoidDType"),
    ],
    ids=[
        "lock",
        "lambda",
        "user-function",
        "object",
        "nested",
        "datetime",
        "longdouble",
        "masked",
        "object-array",
        "type",
        "structured-dtype",
    ],  # fmt: skip
)
def test_unsupported_state_is_refused_by_attribute_and_type(tmp_path, value, match):
    if match.endswith("float128") and np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("long double is float64 on this platform")
    holder = Holder()
    holder.thing_ = value
    with pytest.raises(TypeError, match=match) as info:
        io.save(holder, tmp_path / "h")
    assert "never pickles" in str(info.value) or "dtype" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_hyperparameters_and_unregistered_classes_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"Holder\.loss is a builtins\.function"):
        io.save(Holder(loss=_user_loss), tmp_path / "h")

    def make():
        class Local(Params):
            pass

        return Local()

    first, second = make(), make()  # two classes, one registry name: the second one wins
    with pytest.raises(TypeError, match="not the one Params.registry holds"):
        io.save(first, tmp_path / "h")
    io.save(second, tmp_path / "h")
    with pytest.raises(TypeError, match="expected a theta.nn.Module or a learner"):
        io.save({"not": "a learner"}, tmp_path / "x")
    looped = Holder()
    looped.me_ = [1, looped]
    with pytest.raises(TypeError, match=r"Holder\.me_\.1 contains itself"):
        io.save(looped, tmp_path / "x")
    assert sorted(os.listdir(tmp_path)) == ["h"]


# --- refusals when loading ---------------------------------------------------------------------


def _edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def _edit_state(folder: Path, edit) -> None:
    from theta.tensorfile import read_tensors, write_tensors

    tensors, metadata = read_tensors(folder / "state.safetensors")
    edit(tensors)
    write_tensors(folder / "state.safetensors", tensors, metadata)


EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")

from theta.params import Params

class Thing(Params):
    pass
"""


def test_classes_in_modules_not_imported_are_refused_without_importing(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    (tmp_path / "evil_theta_io_probe.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    io.save(Holder(), tmp_path / "h")
    for name in ["evil_theta_io_probe.Thing", "theta.evil_theta_io_probe.Thing", "NoSuchClass"]:
        _edit_config(tmp_path / "h", lambda c, name=name: c.update({"class": name}))
        with pytest.raises(CheckpointError, match=rf"unknown learner class '{name}'.*Holder"):
            io.load(tmp_path / "h")
    assert not marker.exists() and "evil_theta_io_probe" not in sys.modules


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda c: c.update({"class": "os.system"}, params={"command": "touch {marker}"}),
            "unknown learner class 'os.system'",
        ),
        (
            lambda c: c.update({"class": "builtins.eval"}, params={"source": "1"}),
            "unknown learner class 'builtins.eval'",
        ),
        (
            lambda c: c.update({"class": "theta.io.learners.os.system"}),
            "unknown learner class 'theta.io.learners.os.system'",
        ),
        (lambda c: c.update({"class": "theta.__main__.X"}), "unknown learner class"),
        (
            lambda c: c["state"].update(
                thing_={
                    "type": "object",
                    "class": "subprocess.Popen",
                    "state": ["touch", "{marker}"],
                }
            ),
            "unknown class 'subprocess.Popen'",
        ),
        (
            lambda c: c["state"].update(thing_={"type": "function", "name": "os.system"}),
            "'os.system' is not a function of theta's",
        ),
        (
            lambda c: c["state"].update(
                thing_={"type": "function", "name": "theta.io.learners.os.system"}
            ),
            "not a function of theta's",
        ),
        (
            lambda c: c["state"].update(__class__={"type": "tuple", "items": []}),
            "'__class__' is not a fitted attribute name",
        ),
        (lambda c: c["state"].update(sizes_={"type": "pickle", "data": "gASV"}), "unknown value"),
        (
            lambda c: c["state"].update(sizes={"type": "tuple", "items": []}),
            "'sizes' is not a fitted attribute name",
        ),
        (
            lambda c: c["state"].update(m_={"type": "module", "folder": "../../etc"}),
            "is not a model folder name",
        ),
        (
            lambda c: c["state"].update(
                a_={"type": "ndarray", "dtype": "V8", "shape": [1], "items": ["x"]}
            ),
            "not a str, bytes or object dtype",
        ),
        (
            lambda c: c["state"].update(
                a_={"type": "ndarray", "dtype": "<U3", "shape": [2], "items": ["x"]}
            ),
            r"shape \[2\] needs 2 items, not 1",
        ),
        (
            lambda c: c["state"].update(a_={"type": "ndarray", "key": "nope"}),
            "state.safetensors has no tensor 'nope'",
        ),
        (lambda c: c["state"].update(a_={"type": "tuple"}), "'items' must be a list"),
        (lambda c: c["state"].update(a_={"type": "float", "value": "1e400"}), "'nan', 'inf'"),
        (lambda c: c["state"].update(a_={"type": "dict", "pairs": [[[1], 2]]}), "unhashable"),
        (
            lambda c: c["state"].update(
                a_={
                    "type": "generator",
                    "state": {"type": "dict", "items": {"bit_generator": "Evil"}},
                }
            ),
            "unknown bit generator",
        ),
        (
            lambda c: c["state"].update(
                a_={
                    "type": "generator",
                    "state": {"type": "dict", "items": {"bit_generator": "PCG64", "state": 5}},
                }
            ),
            "invalid PCG64 state",
        ),  # fmt: skip
        (
            lambda c: c["state"].update(
                a_={"type": "ndarray", "dtype": "<U9999999", "shape": [3], "items": ["a"] * 3}
            ),
            "far wider than its longest item",
        ),
        (
            lambda c: c["state"].update(a_={"type": "scalar", "dtype": "|S2", "value": "\u20ac"}),
            "latin-1",
        ),  # fmt: skip
        (
            lambda c: c["state"].update(a_=[[[[]]]] * 2 + [{"type": "tuple", "items": [], "x": 1}]),
            r"unexpected keys \['x'\] in a 'tuple' value",
        ),  # fmt: skip
        (
            lambda c: c["state"].update(t_={"type": "type", "name": "os.PathLike"}),
            "'os.PathLike' is not a NumPy scalar type",
        ),  # fmt: skip
        (
            lambda c: c["state"].update(
                t_={"type": "type", "name": "theta.io.learners.os.PathLike"}
            ),
            "is not a NumPy scalar type",
        ),  # fmt: skip
        (lambda c: c["state"].update(t_={"type": "dtype", "dtype": "V8"}), "not a numeric"),
        (lambda c: c["params"].update(colour="red"), "cannot rebuild .*Holder.*colour"),
        (lambda c: c.update(params=[1]), "'params' must be an object"),
        (
            lambda c: c.update(format_version=2),
            r"format version 2 .*reads format version 1 of 'theta.learner'",
        ),
        (lambda c: c.update(state_id="0" * 32), "come from different saves"),
    ],
)
def test_malformed_and_malicious_configs_are_refused_naming_the_file(tmp_path, edit, match):
    marker = tmp_path / "marker"
    io.save(Holder(), tmp_path / "h")

    def apply(config):
        edit(config)
        text = json.dumps(config).replace("{marker}", str(marker))
        config.clear()
        config.update(json.loads(text))

    _edit_config(tmp_path / "h", apply)
    with pytest.raises(CheckpointError, match=match) as info:
        io.load(tmp_path / "h")
    assert str(tmp_path / "h") in str(info.value)
    assert not marker.exists()


def test_deeply_nested_configs_are_refused_not_crashed(tmp_path):
    io.save(Holder(), tmp_path / "h")
    original = (tmp_path / "h" / "config.json").read_text()
    for depth in (900, 100_000):
        nested = "[" * depth + "]" * depth
        text = original.replace('"state": {}', f'"state": {{"deep_": {nested}}}')
        (tmp_path / "h" / "config.json").write_text(text)
        with pytest.raises(CheckpointError, match="nested too deeply|not valid UTF-8 JSON"):
            io.load(tmp_path / "h")
    # a config too deep to read is not recognisably one save wrote: overwrite refuses it
    with pytest.raises(FileExistsError, match="holds 'config.json'"):
        io.save(Holder(), tmp_path / "h", overwrite=True)


def test_state_files_that_do_not_fit_the_config_are_refused(tmp_path):
    holder = Holder()
    holder.coef_ = np.ones(3)
    io.save(holder, tmp_path / "h")
    _edit_state(tmp_path / "h", lambda t: t.update(extra=np.zeros(1)))
    with pytest.raises(CheckpointError, match="state.safetensors holds tensors .* extra"):
        io.load(tmp_path / "h")
    (tmp_path / "h" / "state.safetensors").write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match=r"state\.safetensors looks like a Python pickle"):
        io.load(tmp_path / "h")
    os.remove(tmp_path / "h" / "state.safetensors")
    with pytest.raises(FileNotFoundError, match="state.safetensors"):
        io.load(tmp_path / "h")


def test_nan_state_warns_or_raises(tmp_path):
    holder = Holder()
    holder.coef_ = np.array([1.0, np.nan])
    io.save(holder, tmp_path / "h")
    with pytest.warns(UserWarning, match=r"NaN or infinite.*coef_"):
        io.load(tmp_path / "h")
    with pytest.raises(CheckpointError, match=r"NaN or infinite.*coef_"):
        io.load(tmp_path / "h", check_finite=True)


def test_a_sub_model_from_another_save_is_refused(tmp_path):
    holder = Holder()
    holder.model_ = MLP((2, 2), rng=0)
    io.save(holder, tmp_path / "a")
    io.save(holder, tmp_path / "b")
    os.rename(tmp_path / "b" / "model_", tmp_path / "a" / "model_x")
    os.rename(tmp_path / "a" / "model_", tmp_path / "b" / "model_")
    os.rename(tmp_path / "a" / "model_x", tmp_path / "a" / "model_")
    with pytest.raises(CheckpointError, match=r"model_ and .*config\.json come from different"):
        io.load(tmp_path / "a")


def test_newer_theta_version_warns_naming_both(tmp_path):
    io.save(Holder(), tmp_path / "h")
    _edit_config(tmp_path / "h", lambda c: c.update(theta_version="99.0.0"))
    with pytest.warns(UserWarning, match=r"theta 99\.0\.0, newer than this theta"):
        io.load(tmp_path / "h")


# --- writing: overwrite rules and atomicity ----------------------------------------------------


def test_existing_folders_need_overwrite_and_foreign_files_are_never_replaced(tmp_path):
    path = tmp_path / "h"
    io.save(_rich_holder(), path)
    with pytest.raises(FileExistsError, match=str(path)):
        io.save(Holder(sizes=(1,)), path)
    io.save(Holder(sizes=(1,)), path, overwrite=True)  # replaces the folder and its sub-models
    assert io.load(path).sizes == (1,) and sorted(os.listdir(path)) == [
        "config.json", "state.safetensors"]  # fmt: skip
    io.save(MLP((2, 1), rng=0), path, overwrite=True)  # a model may replace a learner
    io.save(Holder(), path, overwrite=True)  # and the other way round
    (path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="did not write"):
        io.save(Holder(), path, overwrite=True)
    assert (path / "notes.txt").read_text() == "mine"


def test_a_failed_save_keeps_the_old_learner_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "h"
    io.save(_rich_holder(), path)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_learners, "write_tensors", disk_full)
    with pytest.raises(OSError, match="No space left on device") as info:
        io.save(Holder(sizes=(9,)), path, overwrite=True)
    assert info.value.filename == str(path)
    monkeypatch.undo()
    assert_same(vars(io.load(path)), vars(_rich_holder()))
    assert sorted(os.listdir(tmp_path)) == ["h"]


# --- reinforcement-learning agents are learners too --------------------------------------------


def _agents() -> list[type]:
    """Every public Agent subclass in theta.rl.agents right now."""
    import importlib
    import pkgutil

    import theta.rl.agents as package
    from theta.rl.agents.base import Agent

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    found, todo = set(), [Agent]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("theta.rl") and not sub.__name__.startswith("_"):
                found.add(sub)
    return sorted(found, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", _agents(), ids=lambda cls: cls.__name__)
def test_rl_agents_round_trip_after_learning(tmp_path, cls):
    from theta.rl import SAC, MultiArmedBandit, make

    if cls is SAC:  # continuous actions only: a small pendulum and small networks
        env, obs = make("Pendulum-v1"), np.array([1.0, 0.0, 0.5], dtype=np.float32)
        agent = cls(random_state=0, batch_size=16, learning_starts=50, hidden_sizes=(8,))
    else:
        env, obs, agent = MultiArmedBandit([0.1, 0.9, 0.5]), 0, cls(random_state=0)
    agent.learn(env, 200)
    io.save(agent, tmp_path / "agent")
    again = io.load(tmp_path / "agent")
    assert_same(agent.get_params(deep=False), again.get_params(deep=False))
    assert_same(vars(agent), vars(again))
    assert_same([again.predict(obs) for _ in range(5)], [agent.predict(obs) for _ in range(5)])
