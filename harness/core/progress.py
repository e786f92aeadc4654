"""Progress of long stages: a tqdm bar on a terminal, a few plain lines anywhere else (a pipe, a file, a CI log).

tqdm redraws with carriage returns and cursor moves; written to a file, nested bars become thousands of lines
(one `run` wrote 2,239). Off a terminal a stage therefore writes one line when it ends (with its rate), plus one
line every HARNESS_PROGRESS_INTERVAL seconds (default 60) while it runs, and an inner bar (one per chunk of a
stage) writes nothing. HARNESS_PROGRESS=bar|plain|off overrides the choice.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm.auto import tqdm

MODES = ("auto", "bar", "plain", "off")


def mode(stream=None) -> str:
    """'bar', 'plain' or 'off': HARNESS_PROGRESS if set, else 'bar' on a terminal and 'plain' elsewhere."""
    chosen = os.environ.get("HARNESS_PROGRESS", "auto").strip().lower() or "auto"
    if chosen not in MODES:
        chosen = "auto"
    if chosen != "auto":
        return chosen
    stream = stream if stream is not None else sys.stderr
    try:
        return "bar" if stream.isatty() else "plain"
    except (AttributeError, ValueError):  # closed or not a real stream
        return "plain"


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool = True, inner: bool = False, stream=None):
    """A progress bar with tqdm's update / set_postfix / close and context-manager use.

    `inner`: a bar inside a stage that has its own (one per chunk or batch): shown on a terminal only."""
    m = mode(stream)
    if not enabled or m == "off" or (m == "plain" and inner):
        return Silent()
    if m == "bar":
        return tqdm(total=total, desc=desc, unit=unit, leave=not inner, file=stream)
    return Plain(total, desc, unit, stream)


class Silent:
    n = 0

    def update(self, k: int = 1) -> None:
        self.n += k

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Plain(Silent):
    """Writes '<desc>: n/total unit (rate, elapsed)' every `interval` seconds and once when closed."""

    def __init__(self, total, desc, unit, stream=None, interval: float | None = None):
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.interval = interval if interval is not None else _interval()
        self.t0 = self.last = time.monotonic()
        self.postfix = ""
        self.closed = False

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._line("")

    def set_postfix(self, *args, **kwargs) -> None:
        items = dict(*args, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._line(" done")

    def _line(self, tail: str) -> None:
        elapsed = time.monotonic() - self.t0
        rate = f", {self.n / elapsed:.3g} {self.unit}/s" if elapsed > 0 and self.n else ""  # 0.0123 chunk/s too
        of = f"/{self.total}" if self.total is not None else ""
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"[{self.desc}] {self.n}{of} {self.unit}{tail} ({elapsed:.1f} s{rate}{extra})",
              file=self.stream if self.stream is not None else sys.stderr, flush=True)


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("HARNESS_PROGRESS_INTERVAL", "60")))
    except ValueError:
        return 60.0
