"""Data read a batch at a time: map-style datasets and the loader that batches them.

A **dataset** is anything with ``__len__`` and ``__getitem__(indices)`` that takes an integer
array and returns ``(X_batch, y_batch)`` (or ``X_batch`` alone, for unsupervised models): the
map-style dataset PyTorch users know, asked for a whole batch at once. :class:`Dataset` is its
abstract base, but any such object that is not an array counts (duck typing).
:class:`ArrayDataset` serves arrays, ``np.memmap`` files and Dask arrays, reading only the rows
asked for, so data larger than memory trains with a few batches in memory at a time.

:class:`DataLoader` turns a dataset (or an array, or an iterable of ready-made batches) into
batches, epoch after epoch: seeded shuffling by blocks of rows, ``drop_last``, an optional
background thread that reads ahead, and a resumable position (:meth:`DataLoader.state_dict`),
so a run restored from a checkpoint sees the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import abc
import itertools
import math
import numbers
import queue
import threading
import weakref
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from theta.autograd import Tensor
from theta.errors import CheckpointError
from theta.rng import check_random_state
from theta.validation import Interval, check_consistent_length, check_param

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "epoch_order", "in_memory", "is_array",
           "is_map_style", "split_batch"]  # fmt: skip

_COUNT = Interval(numbers.Integral, 1, None)
# A memory map is read in runs of about this many bytes: long enough for the disk and the
# kernel's read-ahead to stream (256 KiB is twice Linux's default read-ahead), short enough
# that a batch of a few hundred rows still mixes several places in the file.
_BLOCK_BYTES = 1 << 18
_END = object()  # marks the end of a stream of batches


class Dataset(abc.ABC):
    """Abstract map-style dataset: a length, and a batch of samples for an array of indices.

    Subclass it (or write any class with the same two methods: they are all a
    :class:`DataLoader` and :func:`theta.train.fit` use) to read samples from wherever they
    live: files, a database, a generator that computes them.

    Examples
    --------
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def __getitem__(self, indices):
    ...         x = np.asarray(indices, dtype=np.float64).reshape(-1, 1)
    ...         return x, x**2
    >>> [yb.ravel().tolist() for _, yb in DataLoader(Squares(), batch_size=2)]
    [[0.0, 1.0], [4.0, 9.0], [16.0]]
    """

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abc.abstractmethod
    def __getitem__(self, indices: np.ndarray) -> Any:
        """``(X_batch, y_batch)``, or ``X_batch`` alone, for an int array of sample indices."""


def _is_dask(a: Any) -> bool:
    return type(a).__module__.startswith("dask.")


def is_array(data: Any) -> bool:
    """An array-like rather than a dataset: ndarrays (memory maps too), lists, tuples, Dask
    arrays and anything NumPy can convert (``__array__``)."""
    return isinstance(data, np.ndarray | list | tuple) or hasattr(data, "__array__")


def is_map_style(data: Any) -> bool:
    """Whether ``data`` is read by index (an array or a dataset) rather than iterated over."""
    return is_array(data) or (hasattr(data, "__len__") and hasattr(data, "__getitem__"))


def in_memory(data: Any) -> bool:
    """Arrays held in memory, as opposed to memory maps, Dask arrays, datasets, iterables."""
    if isinstance(data, np.ndarray):
        return not isinstance(data, np.memmap)
    return isinstance(data, list | tuple | Tensor)


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(X_batch, y_batch)`` of a batch: a pair, or ``X_batch`` alone (no targets)."""
    if not isinstance(batch, tuple):
        return batch, None
    if len(batch) != 2:
        raise ValueError(
            f"a batch is (X_batch, y_batch) or X_batch alone; got a tuple of {len(batch)} items."
        )
    return batch


def _read_rows(a: Any, indices: Any) -> tuple[Any, np.ndarray | None]:
    """``a[indices]``, and the order that puts its rows back as asked (or None): out-of-core
    sources are read in ascending order (sequential pages for a memory map, no out-of-order
    slicing for Dask)."""
    out_of_core = isinstance(a, np.memmap) or _is_dask(a)
    if out_of_core and isinstance(indices, np.ndarray) and indices.ndim == 1:
        ascending = np.argsort(indices, kind="stable")
        rows = a[indices[ascending]]
        back = np.empty_like(ascending)
        back[ascending] = np.arange(len(ascending))
        return rows, back
    return a[indices], None


@dataclass(frozen=True, eq=False, repr=False)
class ArrayDataset(Dataset):
    """A dataset over arrays: rows of ``X`` and ``y`` by index, read only when asked for.

    ``X`` and ``y`` may be NumPy arrays, ``np.memmap`` files (only the requested rows are
    read from disk), Dask arrays (the requested rows are computed batch by batch) or anything
    ``numpy.asarray`` converts (loaded into memory). The shipped data sets
    (:func:`load_iris` and the others) are ``ArrayDataset``\\ s that also say what their
    columns and classes mean.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs.
    y : array-like of shape (n_samples, ...), optional
        Targets; without them a batch is ``X_batch`` alone.
    feature_names : tuple of str, optional
        One name per column of ``X``.
    target_names : tuple of str, optional
        Class names, indexed by ``y`` (classification only).
    description : str, default=""
        What the data is, where it comes from, and under which licence.
    name : str, default=""
        The name :func:`load_dataset` knows it by.

    Attributes
    ----------
    block_size : int
        Rows a shuffling :class:`DataLoader` keeps together: 1 in memory, about 256 KiB of
        rows for a memory map, one chunk for a Dask array.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` have different numbers of samples.

    Examples
    --------
    >>> ds = ArrayDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    >>> ds
    ArrayDataset(X=(5, 2) float64, y=(5,) int64)
    >>> Xb, yb = ds[np.array([4, 0])]
    >>> Xb.tolist(), yb.tolist()
    ([[8.0, 9.0], [0.0, 1.0]], [4, 0])
    >>> len(ds)
    5
    """

    X: Any
    y: Any = None
    _: KW_ONLY
    feature_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None
    description: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        for field in ("X", "y"):
            a = getattr(self, field)
            if a is not None and not (isinstance(a, np.ndarray) or _is_dask(a)):
                try:
                    object.__setattr__(self, field, np.asarray(a))
                except ValueError as exc:
                    raise ValueError(
                        f"ArrayDataset: {field} is not an array ({exc}). A list is read as an "
                        "array; to pass ready-made batches, pass an iterable of them instead "
                        "(a generator, or a class whose __iter__ yields them)."
                    ) from exc
        if np.ndim(self.X) == 0:
            raise ValueError(f"ArrayDataset needs X with a samples axis; got a scalar {self.X!r}.")
        check_consistent_length(self.X, self.y)

    @property
    def block_size(self) -> int:
        """Rows a shuffling loader keeps together (see the class's Attributes)."""
        if _is_dask(self.X):
            return int(self.X.chunks[0][0])
        if isinstance(self.X, np.memmap):
            row_bytes = self.X.dtype.itemsize * math.prod(self.X.shape[1:])
            return max(1, _BLOCK_BYTES // max(row_bytes, 1))
        return 1

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, indices: Any) -> Any:
        if not isinstance(indices, slice):
            indices = np.asarray(indices)
        parts = [_read_rows(a, indices) for a in (self.X, self.y) if a is not None]
        rows = [r for r, _ in parts]
        if any(_is_dask(r) for r in rows):
            import dask  # only reached with Dask arrays, so dask is installed

            rows = list(dask.compute(*rows))
        out = tuple(np.asarray(r if back is None else np.asarray(r)[back])
                    for r, (_, back) in zip(rows, parts, strict=True))  # fmt: skip
        return out[0] if self.y is None else out

    def __repr__(self) -> str:
        def describe(a: Any) -> str:
            return "None" if a is None else f"{tuple(a.shape)} {a.dtype}"

        name = f"{self.name!r}, " if self.name else ""
        classes = "" if self.target_names is None else f", {len(self.target_names)} classes"
        return f"ArrayDataset({name}X={describe(self.X)}, y={describe(self.y)}{classes})"


def epoch_order(
    n_samples: int, shuffle: bool, rng: np.random.Generator, block_size: int = 1
) -> np.ndarray:
    """Sample indices in the order one epoch visits them.

    Shuffling permutes blocks of ``block_size`` consecutive rows and the rows inside each
    block, so every block is read as one run; ``block_size=1`` is a plain permutation.
    """
    if not shuffle:
        return np.arange(n_samples)
    if block_size == 1:
        return rng.permutation(n_samples)
    starts = rng.permutation(math.ceil(n_samples / block_size)) * block_size
    return np.concatenate(
        [s + rng.permutation(min(block_size, n_samples - s)) for s in starts.tolist()]
    )


def _batch_reads(dataset: Any, order: np.ndarray, batch_size: int, start: int,
                 stop: int) -> Iterator[Any]:  # fmt: skip
    """The batches ``start`` to ``stop`` of an epoch; binds no loader, so a reading thread
    never keeps one alive."""
    for i in range(start, stop):
        yield dataset[order[i * batch_size : (i + 1) * batch_size]]


def _read_ahead(source: Iterator[Any], depth: int) -> Iterator[Any]:
    """``source``'s items, read by a background thread up to ``depth`` items ahead.

    An exception in the thread is raised here, in the consumer. When this generator ends,
    is closed (a ``break``) or is garbage collected, the thread is stopped and joined.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in source:
                items.put((item, None))
                if stop.is_set():
                    return
            items.put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer to raise
            items.put((_END, exc))

    thread = threading.Thread(target=work, name="theta-DataLoader-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        # Empty the queue so a blocked put returns; the thread then sees `stop` and ends.
        with_room = True
        while with_room:
            try:
                items.get_nowait()
            except queue.Empty:
                with_room = False
        if thread is not threading.current_thread():  # the GC may finalise us in the reader
            thread.join()


class DataLoader:
    """Batches of a dataset, epoch after epoch: shuffled by blocks, seeded, resumable.

    Each ``for`` loop over the loader yields the rest of the current epoch, the next loop the
    next epoch in a fresh order (a loop broken off is continued by the next one). One loop runs
    at a time: starting a new one ends the previous one.

    Shuffling permutes **blocks** of consecutive rows, and the rows inside each block, rather
    than single rows: a batch then reads a few long runs of a file instead of scattered rows,
    which is what lets a memory map or a Dask array stream from disk at full speed. The
    block is the dataset's ``block_size`` attribute when it has one (see
    :class:`ArrayDataset`: one row for data in memory, so an in-memory shuffle is a plain
    permutation), else one row; ``block_size=`` overrides it.

    Parameters
    ----------
    dataset : Dataset, array-like or iterable of batches
        A map-style dataset (``__len__`` and ``__getitem__(indices)``), an array (wrapped in
        :class:`ArrayDataset`, yielding ``X`` batches), or an iterable whose items are
        ready-made batches (``(X, y)`` tuples; needs ``batch_size=None``). An iterable whose
        ``iter()`` starts over (a list, a class with ``__iter__``) serves many epochs; a
        one-pass iterator (a generator) serves one.
    batch_size : int or None, default=32
        Samples per batch. ``None``: the whole dataset is one batch, or an iterable's items
        are the batches.
    shuffle : bool, default=False
        Draw a new order every epoch (map-style data only).
    seed : None, int or numpy.random.Generator, default=None
        Source of the order. A generator passed in is used, not copied.
    drop_last : bool, default=False
        Skip each epoch's final, smaller batch.
    prefetch : int, default=0
        Batches a background thread reads ahead (0: read in the loop's thread). The thread
        stops when the loop ends, is broken off or the loader is garbage collected; its
        errors are raised in the loop.
    block_size : int, optional
        Rows kept together when shuffling; default as described above.

    Attributes
    ----------
    epoch : int
        Number of epochs whose last batch has been handed out.
    position : int
        Number of batches of the current epoch handed out.

    Raises
    ------
    InvalidParameterError
        If ``batch_size``, ``prefetch`` or ``block_size`` is out of range.
    TypeError
        If ``dataset`` is neither a dataset, an array nor an iterable, or an iterable is
        given a ``batch_size``.
    ValueError
        If the dataset is empty, or ``drop_last`` would leave no batch.

    Examples
    --------
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> loader = DataLoader(ArrayDataset(X, y), batch_size=2)
    >>> len(loader)
    3
    >>> [yb.tolist() for _, yb in loader]
    [[0, 1], [2, 3], [4]]
    >>> sorted(int(i) for b in DataLoader(np.arange(7), batch_size=3, shuffle=True, seed=0)
    ...        for i in b)
    [0, 1, 2, 3, 4, 5, 6]

    Resuming from a checkpoint taken mid-epoch:

    >>> a = DataLoader(ArrayDataset(X, y), batch_size=2, shuffle=True, seed=0)
    >>> it = iter(a)
    >>> _ = next(it)
    >>> b = DataLoader(ArrayDataset(X, y), batch_size=2, shuffle=True, seed=1)
    >>> b.load_state_dict(a.state_dict())
    >>> [yb.tolist() for _, yb in it] == [yb.tolist() for _, yb in b]
    True
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 32,
        shuffle: bool = False,
        seed: None | int | np.random.Generator = None,
        drop_last: bool = False,
        prefetch: int = 0,
        *,
        block_size: int | None = None,
    ) -> None:
        self.dataset = ArrayDataset(dataset) if is_array(dataset) else dataset
        self._map_style = is_map_style(self.dataset)
        if not self._map_style and not hasattr(self.dataset, "__iter__"):
            raise TypeError(
                "DataLoader: dataset must be a dataset (__len__ and __getitem__), an array or "
                f"an iterable of batches; got {type(dataset).__name__}."
            )
        check_param(batch_size, "batch_size", [_COUNT, None], caller=self)
        check_param(prefetch, "prefetch", Interval(numbers.Integral, 0, None), caller=self)
        check_param(block_size, "block_size", [_COUNT, None], caller=self)
        self.n_samples = len(self.dataset) if self._map_style else None
        if not self._map_style and (batch_size is not None or shuffle):
            raise TypeError(
                f"DataLoader: {type(dataset).__name__} is an iterable of ready-made batches "
                "(it has no __len__ and __getitem__), so it cannot be batched or shuffled: pass "
                "batch_size=None and shuffle=False."
            )
        if self.n_samples == 0:
            raise ValueError("DataLoader needs at least one sample; the dataset is empty.")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.prefetch = int(prefetch)
        if block_size is None:
            block_size = getattr(self.dataset, "block_size", 1) if self._map_style else 1
        self.block_size = int(block_size)
        if self._map_style and len(self) == 0:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={batch_size} leaves no batch of "
                f"the {self.n_samples} samples; lower batch_size or keep the last batch."
            )
        self.epoch = 0
        self.position = 0
        self._rng = check_random_state(seed)
        self._order: np.ndarray | None = None  # None until the current epoch draws its order
        self._epoch_rng_state: dict[str, Any] | None = None
        self._skip = 0  # batches of a one-pass iterable to skip after a restored state
        self._active: weakref.ref | None = None  # the running loop, ended by a new one

    def __len__(self) -> int:
        """Number of batches per epoch.

        Raises
        ------
        TypeError
            For an iterable of batches without a length of its own.
        """
        if not self._map_style:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError(
                    f"DataLoader: the iterable of batches ({type(self.dataset).__name__}) has "
                    "no length; count its batches as they come, or train with steps=."
                )
            return len(self.dataset)
        size = self.batch_size or self.n_samples
        if self.drop_last:
            return self.n_samples // size
        return math.ceil(self.n_samples / size)

    def __iter__(self) -> Iterator[Any]:
        """Yield the remaining batches of the current epoch."""
        self.close()
        loop = self._map_batches() if self._map_style else self._stream_batches()
        self._active = weakref.ref(loop)
        return loop

    def close(self) -> None:
        """End the running loop, if any, and stop its reading thread."""
        loop = self._active() if self._active is not None else None
        if loop is not None:
            loop.close()
        self._active = None

    def _ahead(self, source: Iterator[Any]) -> Iterator[Any]:
        return _read_ahead(source, self.prefetch) if self.prefetch else source

    def _end_epoch(self) -> None:
        self.epoch += 1
        self.position = 0
        self._order = None

    def _map_batches(self) -> Iterator[Any]:
        n_batches = len(self)
        if self._order is None:
            # Remember the state before drawing: a resume redraws this epoch's order from it.
            self._epoch_rng_state = self._rng.bit_generator.state
            self._order = epoch_order(self.n_samples, self.shuffle, self._rng, self.block_size)
        size = self.batch_size or self.n_samples
        reads = _batch_reads(self.dataset, self._order, size, self.position, n_batches)
        for batch in self._ahead(reads):
            # Count the batch (and end the epoch with its last one) before handing it out: a
            # checkpoint taken while the caller trains on it must resume with the next one.
            self.position += 1
            if self.position == n_batches:
                self._end_epoch()
            yield batch

    def _stream_batches(self) -> Iterator[Any]:
        source = iter(self.dataset)
        # An iterable that starts over repeats the batches already handed out; a one-pass
        # iterator goes on where it is, unless a restored state says how far it had come.
        skip = self.position if source is not self.dataset else self._skip
        self._skip = 0
        items = self._ahead(itertools.islice(source, skip, None))
        # Read one batch ahead, to know which one is the epoch's last.
        upcoming = next(items, _END)
        while upcoming is not _END:
            batch, upcoming = upcoming, next(items, _END)
            self.position += 1
            if upcoming is _END:
                self._end_epoch()
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """Return the iteration state: plain ints and the generator's state dict.

        ``rng_state`` is the generator's state at the start of epoch ``epoch``. For an
        iterable of batches, a restored loader skips the ``position`` batches already
        handed out: exact when the iterable yields the same batches again (a list, or a
        generator recreated the same way); a live stream just goes on.

        Returns
        -------
        dict
            Keys ``epoch``, ``position``, ``rng_state``, and ``n_samples``, ``batch_size``,
            ``shuffle``, ``drop_last``, ``block_size`` to check that a restored loader is
            compatible. JSON-serialisable for NumPy's default generator (PCG64).

        Examples
        --------
        >>> state = DataLoader(np.zeros((4, 1)), batch_size=2, seed=0).state_dict()
        >>> state["epoch"], state["position"], state["rng_state"]["bit_generator"]
        (0, 0, 'PCG64')
        """
        fresh = self._order is None
        return {
            "epoch": self.epoch,
            "position": self.position,
            "rng_state": self._rng.bit_generator.state if fresh else self._epoch_rng_state,
            "n_samples": self.n_samples,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "block_size": self.block_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; the next loop continues from it.

        Parameters
        ----------
        state : dict
            As returned by :meth:`state_dict`.

        Raises
        ------
        CheckpointError
            If keys are missing, or the state was saved by a loader with a different number
            of samples, batch size, shuffle, drop_last or block setting.

        Examples
        --------
        >>> a = DataLoader(np.arange(6), batch_size=4, shuffle=True, seed=0)
        >>> b = DataLoader(np.arange(6), batch_size=4, shuffle=True, seed=0)
        >>> b.load_state_dict(a.state_dict())
        >>> b.epoch, b.position
        (0, 0)
        """
        missing = {"epoch", "position", "rng_state"} - set(state)
        if missing:
            raise CheckpointError(f"DataLoader state is missing keys {sorted(missing)}.")
        for key in ("n_samples", "batch_size", "shuffle", "drop_last", "block_size"):
            if key in state and state[key] != getattr(self, key):
                raise CheckpointError(
                    f"DataLoader state was saved with {key}={state[key]!r}, but this "
                    f"loader has {key}={getattr(self, key)!r}; batches would not line up."
                )
        if self._map_style and not 0 <= state["position"] < len(self):
            raise CheckpointError(
                f"DataLoader state has position {state['position']}, outside an epoch of "
                f"{len(self)} batches."
            )
        self.close()
        self._rng.bit_generator.state = state["rng_state"]
        self.epoch = int(state["epoch"])
        self.position = self._skip = int(state["position"])
        self._order = None
        self._epoch_rng_state = None
