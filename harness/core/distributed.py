"""Several processes sharing one scoring or generation run: `torchrun --nproc_per_node K -m harness score ...` (or
`generate`), or `accelerate launch --multi_gpu --num_processes K -m harness ...`.

Both launchers set RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR/PORT); accelerate goes through torchrun's own
launcher for that, also on a machine without GPUs, while its `--cpu` flag starts a single process (no variables).
`init()` joins the process group (gloo on
CPU, NCCL when CUDA is available, each rank on GPU LOCAL_RANK) and keeps non-zero ranks quiet: their stdout is
dropped and their stderr passes only errors and tracebacks (prefixed `[rank R]`). Without those variables (or with
WORLD_SIZE=1) everything here is a no-op and torch is not even imported.

Work is split by chunks of problems (harness.core.chunks.plan_chunks), not by single problems: chunk c goes to rank
c % world. A chunk's numbers then do not depend on the world size, so K processes give the same scores as one, bit
for bit. Results travel as JSON in uint8 tensors (no pickle), so rank 0 can merge them without a shared filesystem.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from harness.core.errors import InputError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def mine(self, items: list) -> list:
        """This rank's share of `items`: item i belongs to rank i % size."""
        return items[self.rank::self.size]


_WORLD: World | None = None


def env_world(environ=None) -> World:
    """Rank, world size and local rank from the launcher's environment variables."""
    env = os.environ if environ is None else environ
    values = {}
    for name, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", None)):
        raw = env.get(name)
        if raw is None or raw == "":
            values[name] = default
            continue
        try:
            values[name] = int(raw)
        except ValueError:
            raise InputError(f"cannot read '{raw}'", field=name, expected="an integer (set by torchrun)") from None
    size, rank = values["WORLD_SIZE"], values["RANK"]
    local = values["LOCAL_RANK"] if values["LOCAL_RANK"] is not None else rank
    if size < 1 or not 0 <= rank < size:
        raise InputError(f"RANK={rank} with WORLD_SIZE={size}", field="RANK/WORLD_SIZE",
                         expected="0 <= RANK < WORLD_SIZE")
    return World(rank, size, local)


def current() -> World:
    """The world this process joined with init(), else a single process."""
    return _WORLD if _WORLD is not None else World()


def init() -> World:
    """Join the process group when launched by torchrun/accelerate; idempotent; silences non-zero ranks."""
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    world = env_world()
    if world.active:
        # lazy: torch costs ~2 s at import; light commands must not pay it
        import torch
        import torch.distributed as dist
        if not dist.is_initialized():
            # Rank 0 may train or wait for another run's lock while the others wait in a collective: allow hours.
            timeout = timedelta(seconds=float(os.environ.get("HARNESS_DIST_TIMEOUT", 24 * 3600)))
            if torch.cuda.is_available():
                torch.cuda.set_device(world.local_rank)  # "cuda" then means this rank's GPU
                dist.init_process_group("nccl", timeout=timeout)
            else:
                dist.init_process_group("gloo", timeout=timeout)
            atexit.register(_shutdown)
        if not world.is_main:
            _quiet(world.rank)
    _WORLD = world
    return world


def _shutdown() -> None:
    import torch.distributed as dist  # lazy: torch costs ~2 s at import; light commands must not pay it
    if dist.is_initialized():
        dist.destroy_process_group()


class _ErrorsOnly(io.TextIOBase):
    """A stderr that forwards only error lines and tracebacks, tagged with the rank."""

    def __init__(self, real, rank: int):
        self.real, self.rank, self.buf, self.in_traceback = real, rank, "", False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.buf += s
        while "\n" in self.buf or "\r" in self.buf:
            cut = min(i for i in (self.buf.find("\n"), self.buf.find("\r")) if i >= 0)
            line, self.buf = self.buf[:cut], self.buf[cut + 1:]
            if line.startswith("Traceback"):
                self.in_traceback = True
            if self.in_traceback or line.startswith("error"):
                self.real.write(f"[rank {self.rank}] {line}\n")
                self.real.flush()
        return len(s)

    def flush(self) -> None:
        self.real.flush()


def _quiet(rank: int) -> None:
    sys.stdout = open(os.devnull, "w")
    sys.stderr = _ErrorsOnly(sys.__stderr__, rank)


# --- collectives (all no-ops in a single process) -----------------------------------------------------------------

def _device():
    # lazy: torch costs ~2 s at import; light commands must not pay it
    import torch
    import torch.distributed as dist
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def _to_tensor(obj: Any):
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    data = json.dumps(obj, ensure_ascii=False, allow_nan=True).encode("utf-8")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(_device())


def _from_tensor(t, n: int) -> Any:
    return json.loads(bytes(t[:n].cpu().tolist()).decode("utf-8"))


def broadcast_json(obj: Any, src: int = 0) -> Any:
    """Every rank gets rank `src`'s `obj` (JSON values; the others pass anything, e.g. None)."""
    world = current()
    if not world.active:
        return obj
    # lazy: torch costs ~2 s at import; light commands must not pay it
    import torch
    import torch.distributed as dist
    t = _to_tensor(obj) if world.rank == src else None
    size = torch.tensor([len(t) if t is not None else 0], dtype=torch.long, device=_device())
    dist.broadcast(size, src)
    if t is None:
        t = torch.empty(int(size), dtype=torch.uint8, device=_device())
    dist.broadcast(t, src)
    return _from_tensor(t, int(size))


def gather_json(obj: Any, dst: int = 0) -> list | None:
    """Rank `dst` gets every rank's `obj` in rank order; the other ranks get None."""
    world = current()
    if not world.active:
        return [obj]
    # lazy: torch costs ~2 s at import; light commands must not pay it
    import torch
    import torch.distributed as dist
    t = _to_tensor(obj)
    sizes = [torch.zeros(1, dtype=torch.long, device=_device()) for _ in range(world.size)]
    dist.all_gather(sizes, torch.tensor([len(t)], dtype=torch.long, device=_device()))
    width = max(int(s) for s in sizes)
    padded = torch.zeros(width, dtype=torch.uint8, device=_device())
    padded[:len(t)] = t
    # all_gather rather than gather: NCCL has no gather on older torch, and the payloads are small
    parts = [torch.empty(width, dtype=torch.uint8, device=_device()) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    if world.rank != dst:
        return None
    return [_from_tensor(p, int(s)) for p, s in zip(parts, sizes)]


def barrier() -> None:
    if current().active:
        import torch.distributed as dist  # lazy: torch costs ~2 s at import; light commands must not pay it
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (building the world, training: products that go to the cache), the others then
    run it and find those products cached, given a shared cache folder."""
    world = current()
    if not world.is_main:
        barrier()
    try:
        yield
    finally:
        if world.is_main:
            barrier()
