"""Progress bars for long jobs (training, RL, tuning, embedding a corpus), shown only to people.

A bar is drawn by tqdm on stderr when ``enabled`` is true, or, when it is ``None``, only if
stderr is a terminal: logs, pipes and tests stay clean, and ``--quiet`` passes ``False``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: float | None, *, unit: str, enabled: bool | None = None,
                 initial: int = 0) -> Any:  # fmt: skip
    """A tqdm bar counting ``unit``s up to ``total`` (unknown if ``None`` or infinite), or
    ``None`` when no bar should be shown."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    known = total is not None and not math.isinf(total)
    return tqdm(total=int(total) if known else None, initial=initial, unit=unit, leave=False)
