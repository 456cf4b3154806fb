"""Save and load models and learners without pickle: arrays as safetensors, the rest as JSON.

The chapter's split, on disk. ``save(model, path)`` writes a *model folder*::

    path/
      model.safetensors   the parameters θ: model.state_dict(), one tensor per dotted name
      config.json         how to rebuild f: {"format": "theta.model", "format_version": 4,
                          "theta_version": ..., "class": "theta.nn.layers.MLP",
                          "hyperparameters": {...}}

and ``load(path)`` rebuilds the module from ``theta.nn.Module.registry`` by its qualified class
name (``theta.params.registry_name``; older folders' bare names of theta's classes too) with the
recorded constructor arguments, then copies the parameters in. Each argument is one node of
``theta.treefile``'s tree (plain JSON for numbers, strings, booleans, None and lists; tuples,
dicts, NaN as typed nodes; nested modules, such as a ``Sequential``'s layers, as ``{"type":
"module", "class": ..., "hyperparameters": ...}``, rebuilt recursively), so every argument
comes back as it was given.

``save(learner, path)`` does the same for an estimator or agent (any ``theta.params.Params``,
fitted or not) and writes a *learner folder*::

    path/
      config.json         {"format": "theta.learner", "format_version": 1, "theta_version",
                          "class": "theta.estimators.cluster.KMeans", "params": {...},
                          "state": {...}}: hyperparameters and fitted attributes as JSON
      state.safetensors   every numeric array of the fitted state (coef_, a kNN's memory, a
                          fitted faiss index as bytes), named by attribute
      model_/             a model folder (as above) for each theta Module the learner holds

``theta.io.learners`` lists what a learner may hold; hyperparameters and fitted state come
back exactly (tuples as tuples, ``classes_`` of string labels as the same array, NumPy scalars
with their dtype), so the loaded learner predicts bit for bit what the saved one did.

Nothing in any file is ever executed or unpickled: a file can only name a ``Module`` or
``Params`` class that the running program has already imported (or, for a learner, one of
theta's own classes, whose module is then imported).

Guarantees:

- A folder is written beside ``path`` under a hidden name and renamed into place in one atomic
  step (``theta.tensorfile.atomic_directory``), so after a crash ``path`` is the complete old
  folder or the complete new one, and two processes saving to one path never mix their files.
  ``config.json`` also records a random ``weights_id`` (``state_id``) that the tensor file
  carries in its metadata, and a learner's config records each sub-model's ``weights_id``, so
  a folder whose files come from different saves is refused, not loaded (a hand-written
  ``config.json`` without these ids is accepted as it is).
- An existing ``path`` is refused unless ``overwrite=True``, and even then only what a save
  wrote is replaced: an empty folder, or one whose ``config.json`` carries theta's ``format``
  and which holds only that format's files and, for a learner, exactly the model folders its
  config lists. Anything else (another saved model in a subfolder, a user's own
  ``config.json``, a stray file) is refused, named, and left untouched.
- The tensor files carry the SHA-256 of their data, checked on load (``checksum=False`` skips
  it), so damaged bytes are refused. A save killed mid-way leaves hidden temporaries that the
  next ``save`` or ``load`` of that path removes.
- The tensor file is validated completely before use (see ``theta.tensorfile``); pickles and
  PyTorch ``.pt`` files are refused by name. An object is built and filled only once every
  name, shape and dtype fits, so a bad file never leaves a half-loaded model behind. A model
  is built without drawing random weights (every one comes from the file), and its shapes are
  checked against the file before any array is touched, so a ``config.json`` that describes a
  far larger model than its weights is refused without allocating it.
- A learner's fitted state restores only attribute names that end in ``_`` or that its class
  lists in ``__theta_state_names__``, never one that hides a method or property, and a
  function or class only where the class lists the attribute in ``__theta_callables__``.
- NaN or infinite values load with a warning, or raise with ``check_finite=True``.
- A folder from a newer format version is refused, naming both versions.

PyTorch interop: theta's parameter names and layouts equal torch.nn's for the equivalent modules
(Linear, Embedding, LayerNorm; a Sequential's children are ``0``, ``1``, ... as in
``torch.nn.Sequential``; an MLP's names are those of ``torch.nn.Sequential(Linear, act,
[Dropout], Linear, ...)``; MultiHeadAttention's those of ``torch.nn.MultiheadAttention``), so
a state dict saved by ``safetensors.torch.save_file(torch_model.state_dict(), path)`` loads
strictly with ``model.load_state_dict(load_state_dict(path))``, and the reverse:
``save_state_dict(model.state_dict(), path)`` then
``torch_model.load_state_dict(safetensors.torch.load_file(path))``. ``save`` writes an ordinary
safetensors file too, so ``path/model.safetensors`` opens in PyTorch as it is. Folders of format
version 1 (theta's own names before: ``layers.0.weight``, ``qkv``/``proj``) still load; their
names are translated (``theta.io.models.version1_name``).
"""

from __future__ import annotations

import os
from typing import Any

from theta.io import learner_loader, learners, models
from theta.io.models import FORMAT_VERSION, load_state_dict, save_state_dict
from theta.nn import Module
from theta.params import Params
from theta.tensorfile import remove_stale_temporaries

__all__ = ["FORMAT_VERSION", "load", "load_state_dict", "save", "save_state_dict"]


def save(obj: Module | Params, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write a model (parameters and hyperparameters) or a learner (hyperparameters and fitted
    state) to the folder ``path``.

    Parameters
    ----------
    obj : Module or Params
        A module whose class is in ``Module.registry`` (every ``Module`` subclass is) and
        whose recorded hyperparameters are numbers, strings, booleans, None, lists, tuples,
        sets, dicts, or modules of the same kind (no arrays: those are parameters or
        buffers); or a learner (an estimator or
        agent: any ``theta.params.Params``) whose class is defined at the top level of a
        module and whose hyperparameters and attributes are values ``theta.io.learners``
        lists (arrays, numbers, strings, containers, NumPy scalars and Generators, modules,
        learners, faiss indexes).
    path : str or path-like
        The folder to create. Its parent must exist.
    overwrite : bool, default=False
        Replace an existing folder that ``save`` wrote at ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or if it is not a theta folder
        (a file, or a folder holding other files), which ``save`` never replaces.
    TypeError
        Naming a hyperparameter or attribute, and its type, that cannot be saved without
        pickle, or a class whose name is registered to another class.
    OSError
        Naming ``path`` if it cannot be written; an existing folder is left as it was.

    Examples
    --------
    >>> import os, tempfile
    >>> from theta.nn import MLP
    >>> model = MLP((2, 4, 1), rng=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save(model, os.path.join(d, "mlp"))
    ...     sorted(os.listdir(os.path.join(d, "mlp")))
    ['config.json', 'model.safetensors']
    """
    if isinstance(obj, Module):
        models.save_model(obj, path, overwrite=overwrite)
    elif isinstance(obj, Params):
        learners.save_learner(obj, path, overwrite=overwrite)
    else:
        raise TypeError(
            "save: expected a theta.nn.Module or a learner (a theta.params.Params such as an "
            f"estimator), not {type(obj).__name__}."
        )


def load(
    path: str | os.PathLike,
    *,
    strict: bool = True,
    check_finite: bool = False,
    checksum: bool = True,
) -> Any:
    """Rebuild the model or learner saved in the folder ``path``.

    Parameters
    ----------
    path : str or path-like
        A folder written by ``save``.
    strict : bool, default=True
        Require the file's tensor names to match the rebuilt model's parameters exactly.
        With False, missing and unexpected names are reported in a warning and skipped
        (missing parameters keep their fresh initial values); wrong shapes are always errors.
        For a learner this applies to the models it holds; its own state is always strict.
    check_finite : bool, default=False
        Raise on NaN or infinite values instead of warning.
    checksum : bool, default=True
        Verify every tensor file against the SHA-256 of its data that ``save`` records, so
        a file damaged on disk or in transit is refused rather than loaded; False skips the
        hashing (about 1 s per GB) for very large models.

    Returns
    -------
    Module or Params
        A new object of the saved class: a module with the saved parameters (and their
        dtypes), or a learner with the saved hyperparameters and fitted state.

    Raises
    ------
    CheckpointError
        If a file is malformed, not safetensors (pickles are refused unread) or fails its
        checksum, the format version is newer than this theta reads, the class is unknown,
        the hyperparameters do not rebuild it, or names, shapes or dtypes do not fit (all
        listed).
    FileNotFoundError, NotADirectoryError, PermissionError
        Naming the path, if it is missing, is a file, or cannot be read.

    Examples
    --------
    >>> import os, tempfile
    >>> import theta
    >>> from theta.nn import MLP
    >>> model = MLP((2, 4, 1), rng=0)
    >>> x = theta.tensor([[1.0, 2.0]])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save(model, os.path.join(d, "mlp"))
    ...     again = load(os.path.join(d, "mlp"))
    >>> type(again).__name__, again.hyperparameters()
    ('MLP', {'sizes': (2, 4, 1), 'activation': 'relu', 'dropout': 0.0})
    >>> bool((again(x).numpy() == model(x).numpy()).all())
    True

    A learner comes back with its hyperparameters and fitted state:

    >>> import numpy as np
    >>> from theta.params import Params
    >>> class Centre(Params):
    ...     def __init__(self, shift=(0.0, 0.0)):
    ...         self.shift = shift
    ...     def fit(self, X):
    ...         self.mean_ = np.mean(X, axis=0) + self.shift
    ...         return self
    >>> centre = Centre(shift=(1.0, -1.0)).fit([[0.0, 2.0], [2.0, 4.0]])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save(centre, os.path.join(d, "centre"))
    ...     again = load(os.path.join(d, "centre"))
    >>> again.shift, again.mean_
    ((1.0, -1.0), array([2., 2.]))
    """
    folder = os.fspath(path)
    remove_stale_temporaries(folder)  # what a save killed mid-way left beside it
    models.check_folder(folder)
    for attempt in range(5):
        config, tensors = models.read_folder(folder, checksum=checksum)
        options = {"strict": strict, "check_finite": check_finite, "stacklevel": 3}
        if config["format"] == models.FORMAT:
            return models.build_model(folder, config, tensors, **options)
        try:
            return learner_loader.build_learner(
                folder, config, tensors, checksum=checksum, **options
            )
        except (learner_loader.TornRead, FileNotFoundError):
            # a concurrent save(overwrite=True) replaced the folder between two reads
            if attempt == 4:
                raise
    raise AssertionError("unreachable")
