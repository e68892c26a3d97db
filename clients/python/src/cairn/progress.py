"""Progress bars: the native core reports `(phase, event, amount)` and a tqdm bar per phase
follows it (hashing, uploading, downloading), in bytes."""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Optional


def progress_callback(enabled: Optional[bool]) -> Optional[Callable[[Optional[str], str, int], None]]:
    """A callback drawing tqdm bars when enabled (default: tqdm installed and stderr a
    terminal); None otherwise, so the core reports nothing."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # type: ignore
    except ImportError:
        return None
    return _Bars(tqdm)


class _Bars:
    """One bar at a time: `begin` opens it, `advance` moves it, `end` closes it."""

    def __init__(self, tqdm: Any):
        self._tqdm = tqdm
        self._bar: Any = None
        self._lock = threading.Lock()

    def __call__(self, phase: Optional[str], event: str, amount: int) -> None:
        with self._lock:
            if event == "begin":
                if self._bar is not None:
                    self._bar.close()
                self._bar = self._tqdm(
                    total=amount, desc=phase, unit="B", unit_scale=True, unit_divisor=1024, leave=False
                )
            elif event == "advance" and self._bar is not None:
                self._bar.update(amount)
            elif event == "end" and self._bar is not None:
                self._bar.close()
                self._bar = None
