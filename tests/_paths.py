"""The two roots every test reads: the checkout, and the real data sets in ../shared/data beside it (absent on a
bare clone: the tests that need them skip and say where they looked)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
