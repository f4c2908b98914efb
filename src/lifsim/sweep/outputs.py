"""A finished sweep's table, its gridded means, and its figure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..io.files import atomic_path
from .grid import Grid

#: Lines drawn at most when a sweep of three axes or more is drawn as curves.
MAX_CURVES = 16


def combine(out: Path, n_batches: int, grid: Grid):
    """Every batch file into one pyarrow Table, sorted by point then trial, with a column
    per axis holding the point's value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .runner import batch_path

    table = pa.concat_tables([pq.read_table(batch_path(out, b)) for b in range(n_batches)], promote_options="default")
    table = table.sort_by([("point", "ascending"), ("trial", "ascending")])
    points = table.column("point").to_numpy()
    where = np.unravel_index(points, grid.shape) if grid.axes else ()
    for i, (axis, index) in enumerate(zip(grid.axes, where)):
        values = np.asarray(axis.values, dtype=object)[index]
        column = pa.array(values.tolist())
        table = table.add_column(i, axis.name, column)
    return table


def write_table(table, path: Path, csv: bool) -> list:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    written = [path]
    if csv:
        with atomic_path(path.with_suffix(".csv")) as temporary:
            pcsv.write_csv(table, temporary)
        written.append(path.with_suffix(".csv"))
    return written


def gridded(table, grid: Grid, metrics: list):
    """The mean and standard deviation (ddof 0) over trials of each metric, on the grid: an
    xarray Dataset with one dimension per axis (``rate_hz``, ``rate_hz_sd``, ...)."""
    import xarray as xr

    points = table.column("point").to_numpy()
    shape = grid.shape or (1,)
    coords = {a.name: list(a.values) for a in grid.axes}
    dims = [a.name for a in grid.axes] or ["point"]
    variables = {}
    for metric in metrics:
        values = np.asarray(table.column(metric).to_numpy(zero_copy_only=False), dtype=float)
        total = np.bincount(points, weights=np.nan_to_num(values), minlength=grid.n_points)
        count = np.bincount(points, weights=np.isfinite(values), minlength=grid.n_points)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / count, np.nan)
            spread = np.bincount(points, weights=np.nan_to_num((values - mean[points]) ** 2),
                                 minlength=grid.n_points)
            sd = np.where(count > 0, np.sqrt(spread / count), np.nan)
        name = metric.replace(".", "_")
        variables[name] = (dims, mean.reshape(shape))
        variables[f"{name}_sd"] = (dims, sd.reshape(shape))
    return xr.Dataset(variables, coords=coords, attrs={"trials": grid.trials, "seed": grid.seed})


def write_dataset(dataset, path: Path) -> Path:
    with atomic_path(path) as temporary:
        dataset.to_netcdf(temporary, engine="h5netcdf")
    return path


def figure(dataset, grid: Grid, metrics: list, path: Path, title: str) -> Path:
    """One panel per metric: a curve with its spread over trials (one axis), a heat map
    (two axes), or curves over the first axis, one per value of the others (three or more,
    at most MAX_CURVES; then a heat map of the first two, the others at their first value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        name = metric.replace(".", "_")
        mean, sd = dataset[name], dataset[f"{name}_sd"]
        others = math.prod(grid.shape[1:]) if grid.axes else 1
        if len(grid.axes) == 2 or (len(grid.axes) > 2 and others > MAX_CURVES):
            _heat_map(ax, mean.isel({a.name: 0 for a in grid.axes[2:]}), grid.axes[:2], metric, fig)
        else:
            _curves(ax, dataset, mean, sd, grid, metric)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110)
    plt.close(fig)
    return path


def _heat_map(ax, mean, axes, metric, fig):
    y_axis, x_axis = axes
    image = ax.pcolormesh(_numeric(x_axis.values), _numeric(y_axis.values), mean.transpose(y_axis.name, x_axis.name),
                          shading="nearest", cmap="viridis")
    fig.colorbar(image, ax=ax, label=metric)
    ax.set_xlabel(x_axis.name)
    ax.set_ylabel(y_axis.name)
    ax.set_title(metric)


def _curves(ax, dataset, mean, sd, grid: Grid, metric):
    if not grid.axes:
        ax.bar([0], [float(mean)], yerr=[float(sd)])
        ax.set_title(metric)
        return
    first, rest = grid.axes[0], grid.axes[1:]
    x = _numeric(first.values)
    combos = np.ndindex(*(len(a.values) for a in rest)) if rest else [()]
    for combo in combos:
        pick = {a.name: i for a, i in zip(rest, combo)}
        m, s = mean.isel(pick).values, sd.isel(pick).values
        label = ", ".join(f"{a.name} = {a.values[i]}" for a, i in zip(rest, combo)) or None
        line, = ax.plot(x, m, label=label)
        if grid.trials > 1:
            ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.25, lw=0)
        if metric == "rate_hz" and "predicted_rate_hz" in dataset:
            ax.plot(x, dataset["predicted_rate_hz"].isel(pick).values, "--", color=line.get_color(), lw=1)
    if rest:
        ax.legend(fontsize=7)
    ax.set_xlabel(first.name)
    ax.set_ylabel(metric)
    spread = " (band: ± 1 sd over trials)" if grid.trials > 1 else ""
    closed = "; dashed: closed form" if metric == "rate_hz" and "predicted_rate_hz" in dataset else ""
    ax.set_title(f"{metric}{spread}{closed}", fontsize=9)


def _numeric(values):
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return np.arange(len(values))
