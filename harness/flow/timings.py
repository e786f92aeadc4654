"""Wall time of a run's stages, recorded the same way by every flow: a Stopwatch times named stages (a stage timed
twice adds up, as the search flow's score passes do) and gives the run's Timings, stage name -> seconds in the order
the stages first ran, each rounded to 0.1 s, with total_s last (from the stopwatch's start).

A run file's .md ends with "Timings (s, this machine): " and the Timings as JSON; files written before every flow
wrote JSON have a Python dict there instead, which `parse` reads too."""

from __future__ import annotations

import ast
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

LINE = "Timings (s, this machine): "


@dataclass(frozen=True)
class Timings:
    stages: tuple[tuple[str, float], ...] = field(
        default=(), metadata={"help": "(stage name, seconds rounded to 0.1), in the order the stages ran"})

    def to_dict(self) -> dict[str, float]:
        return dict(self.stages)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def line(self) -> str:
        """The run file's last line (without its newline)."""
        return LINE + self.to_json()

    @classmethod
    def of(cls, mapping: dict) -> Timings:
        return cls(tuple((str(k), float(v)) for k, v in mapping.items()))

    @classmethod
    def parse(cls, text: str) -> Timings:
        """The Timings of a run file's timings line (or of the text after its label): JSON, or the Python dict repr
        that the folds and step-level flows wrote before."""
        text = text.strip()
        if text.startswith(LINE.strip()):
            text = text[len(LINE.strip()):].strip()
        try:
            value = json.loads(text)
        except ValueError:
            value = ast.literal_eval(text)  # literals only: never evaluates code
        if not isinstance(value, dict):
            raise ValueError(f"not a timings object: {text[:80]}")
        return cls.of(value)


def read_timings(md_text: str) -> Timings | None:
    """The Timings of a run file's markdown text (None when it has no timings line)."""
    for ln in md_text.splitlines():
        if ln.startswith(LINE.strip()):
            return Timings.parse(ln)
    return None


class Stopwatch:
    """Times a run's stages: `with clock.stage("train"):` adds the stage's seconds to "train_s"."""

    def __init__(self):
        self.start = time.time()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t = time.time()
        try:
            yield
        finally:
            self.add(name, time.time() - t)

    def add(self, name: str, seconds: float) -> None:
        key = f"{name}_s"
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def since_start(self, name: str) -> None:
        """A stage that began when the stopwatch did (e.g. the pools flow's world_s)."""
        self.seconds[f"{name}_s"] = time.time() - self.start

    def timings(self) -> Timings:
        """The stages so far, rounded, with total_s (since the start) last."""
        return Timings(tuple((k, round(v, 1)) for k, v in self.seconds.items())
                       + (("total_s", round(time.time() - self.start, 1)),))
