"""Running a sweep: batches in this process or on Dask, each written as it finishes; resume.

The output folder holds ``sweep.json`` (what is swept, and the batches), one Parquet file
per finished batch in ``batches/`` (written aside and renamed, so a file there is always
whole), and once every batch is done ``sweep.parquet`` (one row per point × trial,
sorted by point then trial), ``sweep.nc`` (the mean and standard deviation over trials on
the grid, an xarray Dataset in NetCDF-4), ``sweep.png`` and, when asked, ``sweep.csv``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import ParameterError, require_int
from ..io.files import atomic_path, write_text
from .batch import METRICS, Members, SweepSpec, run_members
from .grid import Grid

FORMAT = "lifsim-sweep/1"
#: Neurons a batch of independent-neuron members holds, at most, by default.
BATCH_NEURONS = 100_000
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Plan:
    """The batches of a sweep: ``batches[b]`` lists its (point, trial) members."""

    batches: tuple


def plan_batches(grid: Grid, network: bool, neurons_per_member: int, batch_neurons: int, workers: int) -> Plan:
    """Members in (point, trial) order cut into batches of at most ``batch_neurons`` neurons
    (one member per batch for networks), and at least four batches per worker when the
    sweep is large enough, so that the workers stay busy."""
    members = grid.n_rows
    if network:
        size = 1
    else:
        size = max(1, batch_neurons // max(1, neurons_per_member))
        size = min(size, max(1, math.ceil(members / (4 * workers)))) if workers > 1 else size
    batches = tuple((lo, min(members, lo + size)) for lo in range(0, members, size))
    return Plan(batches)


def members_of(grid: Grid, span: tuple) -> Members:
    rows = np.arange(*span, dtype=np.int64)
    return Members(rows // grid.trials, rows % grid.trials)


def fingerprint(spec: SweepSpec, metrics: tuple) -> str:
    """What decides the rows: the experiment, grid, trials, seed, overrides and metrics (not
    the batches: a resumed sweep keeps the ones it was cut into)."""
    described = json.dumps({"text": spec.text, "axes": [[a.name, list(a.values), [list(k) for k in a.keys]]
                                                          for a in spec.grid.axes],
                            "trials": spec.grid.trials, "seed": spec.grid.seed, "overrides": list(spec.overrides),
                            "metrics": list(metrics)},
                           sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


def batch_path(out: Path, index: int) -> Path:
    return out / "batches" / f"batch-{index:06d}.parquet"


def check_folder(out: Path, digest: str, resume: bool) -> dict | None:
    """Refuse a folder the sweep cannot use; the manifest of the same sweep to resume, or None."""
    manifest_path = out / "sweep.json"
    if not manifest_path.exists():
        if out.exists() and any(out.iterdir()):
            raise ParameterError(f"--out {out} is not empty and holds no sweep; give an empty or new folder")
        return None
    if not resume:
        raise ParameterError(f"--out {out} holds a sweep already: give --resume to continue it, or a new folder")
    try:
        old = json.loads(manifest_path.read_text())
        batches = tuple(tuple(int(x) for x in b) for b in old["batches"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ParameterError(f"--out {out}: sweep.json cannot be read; start in a new folder") from None
    if old.get("format") != FORMAT or old.get("fingerprint") != digest:
        raise ParameterError(f"--resume: the sweep in {out} is a different sweep (experiment, grid, trials, seed, "
                             "overrides or metrics differ); start in a new folder")
    return {**old, "batches": batches}


def start_folder(out: Path, manifest: dict) -> None:
    (out / "batches").mkdir(parents=True, exist_ok=True)
    write_text(out / "sweep.json", json.dumps(manifest, indent=1) + "\n", durable=True)


def finished_batches(out: Path, count: int) -> list:
    return [b for b in range(count) if batch_path(out, b).exists()]


def write_batch(out: Path, index: int, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(batch_path(out, index), durable=True) as temporary:
        pq.write_table(pa.table(columns), temporary)


class Executor:
    """Runs batches in this process, or on a Dask cluster (a LocalCluster of ``workers``
    processes, or the scheduler at ``scheduler``); yields (index, columns) as they finish."""

    def __init__(self, workers: int | None, scheduler: str | None):
        self.client = self.cluster = None
        self.startup_s = 0.0
        if workers is None and scheduler is None:
            return
        tick = time.perf_counter()
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ParameterError("--workers and --scheduler need Dask: pip install 'lifsim[sweep]'") from None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError, ValueError) as error:
                raise ParameterError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there within "
                                     f"{CONNECT_TIMEOUT_S} s ({type(error).__name__})") from None
        else:
            import logging

            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        self.startup_s = time.perf_counter() - tick

    def warm(self, spec: SweepSpec, grid: Grid) -> None:
        """Have every worker import lifsim and load the run's compiled kernels now (a run of
        the first members over a few steps), counted in the start-up, not in the first batches."""
        if self.client is None:
            return
        tick = time.perf_counter()
        self.client.run(warm_worker, spec, members_of(grid, (0, min(2, grid.n_rows))))
        self.startup_s += time.perf_counter() - tick

    def workers(self) -> int:
        if self.client is None:
            return 1
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def run(self, spec: SweepSpec, grid: Grid, plan: Plan, todo: list):
        if self.client is None:
            for b in todo:
                yield b, run_members(spec, members_of(grid, plan.batches[b]))
            return
        from distributed import as_completed

        shared = self.client.scatter(spec, broadcast=True)
        futures = {self.client.submit(run_members, shared, members_of(grid, plan.batches[b]), pure=False,
                                      key=f"lifsim-sweep-batch-{b}-{time.time_ns()}"): b for b in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def close(self):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def warm_worker(spec: SweepSpec, members: Members) -> None:
    data = spec.data()
    dt = spec.config(data, 0, 0).dt_ms
    run_members(replace(spec, overrides=tuple(sorted({**dict(spec.overrides), "duration_ms": 10 * dt}.items()))),
                members)


def progress_bar(total: int, done: int, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit=" points", disable=not show, file=sys.stderr, mininterval=0.5,
                dynamic_ncols=True, leave=False)


def check_metrics(metrics) -> tuple:
    if metrics is None:
        return METRICS
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)) or not metrics:
        raise ParameterError(f"metrics must be a list among {', '.join(METRICS)} (got {metrics!r:.80})")
    for m in metrics:
        if m not in METRICS:
            raise ParameterError(f"metrics must be among {', '.join(METRICS)} (got {m!r:.80})")
    return tuple(dict.fromkeys(metrics))


def keep_columns(columns: dict, metrics: tuple) -> dict:
    """The rows' identity, then the chosen metrics (with a network's per-population ones)."""
    kept = {k: columns[k] for k in ("point", "trial", "seed")}
    for key, values in columns.items():
        if key.split(".")[0] in metrics:
            kept[key] = values
    return kept


#: Bytes a row's value takes, at most, in the table (8-byte numbers; Parquet stores less).
VALUE_BYTES = 8
#: Copies of the whole table in memory while it is combined and written (batches read, sorted,
#: written as Parquet, NetCDF and CSV).
TABLE_COPIES_IN_MEMORY = 4
#: Copies on disk: the batch files and the combined table (and its CSV).
TABLE_COPIES_ON_DISK = 3


def check_room(out: Path, rows: int, columns: int) -> None:
    """Refuse a sweep whose table would not fit in memory, or on the disk under ``out``."""
    from ..simulation.plan import available_memory

    table = rows * columns * VALUE_BYTES
    memory = available_memory()
    if table * TABLE_COPIES_IN_MEMORY > memory:
        raise ParameterError(f"grid: {rows} rows × {columns} columns need about {_gib(table * TABLE_COPIES_IN_MEMORY)} "
                             f"of memory to combine; {_gib(memory)} is available. Sweep fewer points or trials")
    folder = out
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if table * TABLE_COPIES_ON_DISK > free:
        raise ParameterError(f"grid: {rows} rows × {columns} columns need about {_gib(table * TABLE_COPIES_ON_DISK)} "
                             f"on disk; {_gib(free)} is free under {folder}. Sweep fewer points or trials")


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def batch_neurons_of(value) -> int:
    return require_int("batch_neurons", BATCH_NEURONS if value is None else value, low=1, high=10**9)


def workers_of(workers) -> int | None:
    return None if workers is None else require_int("workers", workers, low=1, high=1024)
