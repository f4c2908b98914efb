"""Parameter sweeps: any experiment over a grid of its keys, in this process or on Dask.

`sweep` runs every point of a grid ``trials`` times and writes a tidy table (one row
per point × trial: the axes' values, the seed, and the run's metrics), the mean over
trials on the grid, and a figure; see ``docs/sweeps.md``. Independent-neuron points run in
batches, each batch one vectorised population; network points run one network per task.
Every point × trial draws from its own seed, derived from the sweep's seed and the
point's and trial's indices, so the table is the same wherever and however it runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ParameterError, require_bool
from ..io.experiment_file import builtin_sweeps, parse, read_text
from .batch import METRICS, UNITS, SweepSpec, check_spec, is_network
from .grid import Axis, Grid, from_table, make_grid, parse_option
from .runner import (
    FORMAT, Executor, Plan, batch_neurons_of, check_folder, check_room, check_metrics, finished_batches, fingerprint,
    keep_columns, plan_batches, progress_bar, start_folder, workers_of, write_batch,
)

__all__ = ["sweep", "SweepResult", "Axis", "METRICS", "UNITS", "builtin_sweeps", "load_sweep"]

#: Overrides of the experiment's top-level settings a sweep accepts.
OVERRIDES = ("engine", "dt_ms", "duration_ms", "method", "precision", "neurons", "order")


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: ``table`` (a pyarrow Table, one row per point × trial), ``dataset``
    (an xarray Dataset of the means and standard deviations over trials on the grid), the
    files written, and timings: ``total_s`` (the whole call), ``runs_s`` (from the first
    batch sent to the last written), ``dask_start_s`` (starting or reaching the cluster, and
    its workers importing lifsim and loading the run's kernels), ``batches``, ``resumed``."""

    table: object
    dataset: object
    files: tuple
    timings: dict


def load_sweep(name_or_path: str) -> tuple[str, str]:
    """The source name and TOML text of a built-in sweep, a built-in experiment or a file."""
    return read_text(name_or_path)


def sweep(experiment: str, grid: list | tuple = (), *, out: str | Path, trials: int | None = None,
          seed: int | None = None, metrics: list | None = None, workers: int | None = None,
          scheduler: str | None = None, batch_neurons: int | None = None, resume: bool = False, csv: bool = False,
          plot: list | str | None = None, progress: bool = False, threads: int | None = None,
          **overrides: float | int | str) -> SweepResult:
    """Sweep ``experiment`` (a built-in sweep or experiment name, or a TOML file) over a grid.

    Args:
        grid: axes as ``"KEY=VALUES"`` strings (``"model.tau_m=5,10,20"``,
            ``"stimulus.0.amplitude=0:3:0.05"``: start:stop:step, stop excluded) or `Axis`
            objects; they add to (or replace, key by key) the file's ``[sweep]`` grid.
        out: the output folder (new or empty, or the same sweep's with ``resume``).
        trials: runs per point (default: the file's, else 1). seed: the sweep's seed
            (default: the file's ``[sweep] seed``, else the experiment's ``seed``, else 0).
        metrics: names from `METRICS` (default all).
        workers: run on a Dask LocalCluster of this many worker processes on this machine.
        scheduler: run on the Dask scheduler at this address (``tcp://host:port``).
        batch_neurons: neurons per batch of independent-neuron points (default 100,000).
        resume: continue the sweep in ``out``, skipping its finished batches.
        csv: also write ``sweep.csv``. plot: metrics to draw (default: the file's, else
            ``rate_hz``). progress: show a progress bar on a terminal.
        threads: engine threads per run (default: the experiment's; 1 on Dask workers).
        overrides: top-level settings for every point (``engine``, ``dt_ms``,
            ``duration_ms``, ``method``, ``precision``, ``neurons``, ``order``).
    """
    started = time.perf_counter()
    for name in ("resume", "csv", "progress"):
        require_bool(name, locals()[name])
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ParameterError(f"{unknown[0]} is not a sweep setting (overrides: {', '.join(OVERRIDES)})")
    if workers is not None and scheduler is not None:
        raise ParameterError("give --workers or --scheduler, not both")
    source, text = load_sweep(experiment)
    data = parse(text, source)
    axes, settings = from_table(data.get("sweep", {}), source)
    axes = _merged_axes(axes, grid)
    workers = workers_of(workers)
    sweep_seed = seed if seed is not None else settings.get("seed", data.get("seed", 0))
    chosen = make_grid(axes, trials if trials is not None else settings.get("trials", 1), sweep_seed)
    on_dask = workers is not None or scheduler is not None
    spec = SweepSpec(text, source, chosen, tuple(sorted((k, v) for k, v in overrides.items() if v is not None)),
                     threads if threads is not None else (1 if on_dask else None))
    first = check_spec(spec)
    metrics = check_metrics(metrics if metrics is not None else settings.get("metrics"))
    plotted = _plotted(plot if plot is not None else settings.get("plot"), metrics)
    out = _out_folder(out)
    populations = len(first.populations)
    check_room(out, chosen.n_rows, len(chosen.axes) + 3 + len(metrics) + 2 * populations)
    batch_neurons = batch_neurons_of(batch_neurons if batch_neurons is not None else settings.get("batch_neurons"))
    digest = fingerprint(spec, metrics)
    stored = check_folder(out, digest, resume)
    executor = Executor(workers, scheduler)
    try:
        plan, done = _plan(out, stored, chosen, first, batch_neurons, executor.workers(), {
            "format": FORMAT, "fingerprint": digest, "experiment": source, "text": text,
            "axes": [{"name": a.name, "values": list(a.values), "keys": [list(k) for k in a.keys]} for a in chosen.axes],
            "trials": chosen.trials, "seed": chosen.seed, "overrides": dict(spec.overrides), "metrics": list(metrics),
            "batch_neurons": batch_neurons})
        todo = [b for b in range(len(plan.batches)) if b not in set(done)]
        if todo:
            executor.warm(spec, chosen)
        members_done = sum(plan.batches[b][1] - plan.batches[b][0] for b in done)
        finished, runs_started = len(done), time.perf_counter()
        with progress_bar(chosen.n_rows, members_done, progress) as bar:
            for index, columns in executor.run(spec, chosen, plan, todo):
                write_batch(out, index, keep_columns(columns, metrics))
                finished += 1
                bar.set_postfix_str(f"batches {finished}/{len(plan.batches)}", refresh=False)
                bar.update(plan.batches[index][1] - plan.batches[index][0])
        runs_s = time.perf_counter() - runs_started
    finally:
        executor.close()
    return _finish(out, chosen, plan, metrics, plotted, csv, first, started, {
        "runs_s": runs_s, "dask_start_s": executor.startup_s, "batches": len(plan.batches), "resumed": len(done)})


def _plan(out: Path, stored: dict | None, grid: Grid, first, batch_neurons: int, workers: int, manifest: dict):
    """The batches and those already written: a resumed sweep's own (checked to cover it),
    else new ones, written with the manifest into a new folder."""
    if stored is None:
        plan = plan_batches(grid, is_network(first), int(first.n_neurons), batch_neurons, workers)
        start_folder(out, {**manifest, "batches": [list(b) for b in plan.batches]})
        return plan, []
    plan = Plan(stored["batches"])
    if [b[0] for b in plan.batches[1:]] != [b[1] for b in plan.batches[:-1]] or (
            plan.batches[0][0], plan.batches[-1][1]) != (0, grid.n_rows):
        raise ParameterError(f"--out {out}: sweep.json's batches do not cover the sweep; start in a new folder")
    return plan, finished_batches(out, len(plan.batches))


def _merged_axes(file_axes: list, options) -> list:
    if isinstance(options, (str, bytes)) or not isinstance(options, (list, tuple)):
        raise ParameterError(f"grid must be a list of KEY=VALUES strings or Axis objects (got {options!r:.80})")
    given = [o if isinstance(o, Axis) else parse_option(o) if isinstance(o, str) else _bad_axis(o) for o in options]
    axes = list(file_axes)
    for axis in given:  # an axis over a key the file sweeps takes its place; others go last
        named = [a for a in axes if a.name == axis.name]
        if named:  # new values for a file's axis, by its name
            axes[axes.index(named[0])] = replace(named[0], values=axis.values)
            continue
        same = [i for i, a in enumerate(axes) if {k for k, _ in a.keys} & {k for k, _ in axis.keys}]
        if same:
            axes[same[0]] = axis
            axes = [a for i, a in enumerate(axes) if i not in same[1:]]
        else:
            axes.append(axis)
    return axes


def _bad_axis(option):
    raise ParameterError(f"grid must be a list of KEY=VALUES strings or Axis objects (got {option!r:.80})")


def _plotted(plot, metrics: tuple) -> list:
    chosen = [plot] if isinstance(plot, str) else list(plot) if plot is not None else ["rate_hz"]
    for metric in chosen:
        if metric not in metrics:
            raise ParameterError(f"plot must name metrics of the sweep ({', '.join(metrics)}); got {metric!r:.80}")
    return chosen


def _out_folder(out) -> Path:
    if out is None or str(out) == "":
        raise ParameterError("out must name a folder for the sweep's files")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file, not a folder")
    return out


def _finish(out: Path, grid: Grid, plan, metrics, plotted, csv, first, started, timings) -> SweepResult:
    from .outputs import combine, figure, gridded, write_dataset, write_table

    table = combine(out, len(plan.batches), grid)
    columns = [c for c in table.column_names if c.split(".")[0] in metrics]
    files = write_table(table, out / "sweep.parquet", csv)
    dataset = gridded(table, grid, columns)
    files.append(write_dataset(dataset, out / "sweep.nc"))
    drawn = [c for c in columns if c in plotted] or columns[:1]
    files.append(figure(dataset, grid, drawn[:4], out / "sweep.png", f"{first.name}: {grid.n_points} points × "
                                                                     f"{grid.trials} trials"))
    timings = {"total_s": time.perf_counter() - started, **timings}
    summary = {"rows": table.num_rows, "points": grid.n_points, "trials": grid.trials, **timings}
    (out / "sweep.timings.json").write_text(json.dumps(summary, indent=1) + "\n")
    return SweepResult(table, dataset, tuple(str(f) for f in files), timings)
