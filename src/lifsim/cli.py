"""The ``lifsim`` command line.

Every refused input prints one line on stderr naming the parameter and its allowed
range, and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import __version__, engines
from .errors import ParameterError, require_range
from .neuron.rule import METHODS, PRECISIONS
from .timegrid import grid

ARTICLE_EXPERIMENTS = ("square", "noise", "synaptic")
EXIT_BAD_INPUT = 2
#: The exit status of a run stopped with Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"lifsim: error: {message} (see {self.prog} --help)\n")


def _path(text: str) -> Path:
    """A path given on the command line: not empty."""
    if not text:
        raise argparse.ArgumentTypeError("must name a file or folder (got an empty string)")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lifsim", description=(
        "Simulate leaky integrate-and-fire neurons. Units: time ms, potential mV, current mA, "
        "resistance Ω, rate Hz."), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"lifsim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_run(commands)
    _add_bench(commands)
    _add_export(commands)
    _add_sweep(commands)
    _add_fit(commands)
    _add_show(commands)
    _add_explore(commands)
    _add_info(commands)
    return parser


def _add_bench(commands) -> None:
    from .bench import CASES, DEFAULTS

    bench = commands.add_parser(
        "bench", help="run a benchmark case (A, B, cuba, brunel) and print its speed",
        description="Benchmark cases (lifsim's documentation, page Benchmarks, defines them): " + "; ".join(
            f"{k}: {v['description']}, {v['neurons']} neurons" for k, v in CASES.items())
        + ". wall_s is the simulation (input generation and the engine's loop); build_s builds a network's "
          "synapses; total_s adds start-up and compilation; process_s counts from the process's start.")
    bench.add_argument("case", choices=tuple(CASES), help="benchmark case")
    bench.add_argument("--neurons", type=int, default=None, metavar="N",
                       help="neurons, >= 1 (default: A 100000, B 10000, cuba 4000, brunel 12500); a network is "
                            "scaled to about that many (cuba at a fixed expected in-degree, brunel by its order)")
    bench.add_argument("--order", type=int, default=None, metavar="K",
                       help="brunel only: its order, >= 1 (4K excitatory and K inhibitory neurons; default 2500)")
    bench.add_argument("--duration", type=float, default=None, metavar="MS",
                       help=f"simulated time, ms (default: {DEFAULTS['duration_ms']:g} ms)")
    bench.add_argument("--dt", type=float, default=None, metavar="MS",
                       help=f"time step, ms (default: {DEFAULTS['dt_ms']:g} ms)")
    bench.add_argument("--engine", default="numba", metavar="NAME",
                       help=f"engine: {', '.join(engines.engine_names())} (default: %(default)s)")
    bench.add_argument("--threads", type=int, default=None, metavar="K",
                       help="worker threads, 1 to the number of cores (default: all cores)")
    bench.add_argument("--method", default=None, choices=METHODS,
                       help=f"integration method (default: {DEFAULTS['method']}, as the peers integrate)")
    bench.add_argument("--precision", default="float32", choices=tuple(PRECISIONS),
                       help="floating-point precision (default: %(default)s)")
    bench.add_argument("--seed", type=int, default=0, metavar="N",
                       help="seed of every random draw, an integer >= 0 (default: %(default)s)")
    _add_tensorflow_options(bench)
    bench.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a line")
    bench.add_argument("--quiet", action="store_true",
                       help="no progress bar (it is shown on a terminal only, for runs longer than about a second)")


def _add_sweep(commands) -> None:
    sweep = commands.add_parser(
        "sweep", help="run an experiment over a grid of its parameters (built-in: fi-grid, brunel-phase)",
        description="Run an experiment (a built-in sweep or experiment, or a TOML file) at every point of a grid "
                    "of its keys, TRIALS times each, in this process or on Dask; write sweep.parquet (one row "
                    "per point × trial), sweep.nc (means and standard deviations over trials on the grid), "
                    "sweep.png and batches/ (one file per finished batch) into --out. docs/sweeps.md has more.")
    sweep.add_argument("experiment", metavar="EXPERIMENT",
                       help="fi-grid, brunel-phase, a built-in experiment name, or a .toml file")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES",
                       help="an axis: a dotted key of the experiment file and its values, a,b,c or "
                            "start:stop:step (stop excluded), e.g. model.tau_m=5,10,20 or "
                            "stimulus.0.amplitude=0:3:0.05; repeat for more axes")
    sweep.add_argument("--trials", type=int, default=None, metavar="K", help="runs per point, >= 1 (default: "
                                                                              "the file's, else 1)")
    sweep.add_argument("--seed", type=int, default=None, metavar="N",
                       help="the sweep's seed: each point × trial's seed derives from it (default: the file's)")
    sweep.add_argument("--metrics", default=None, metavar="A,B",
                       help="metrics to keep, comma-separated (default: all): " + ", ".join(_sweep_metrics()))
    sweep.add_argument("--plot", default=None, metavar="A,B", help="metrics to draw (default: the file's, else "
                                                                    "rate_hz)")
    sweep.add_argument("--workers", type=int, default=None, metavar="N",
                       help="run on a Dask LocalCluster of N worker processes on this machine")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on the Dask scheduler at ADDRESS (tcp://host:port)")
    sweep.add_argument("--batch-neurons", type=int, default=None, metavar="N",
                       help="neurons per batch of independent-neuron points (default: 100000)")
    sweep.add_argument("--threads", type=int, default=None, metavar="K",
                       help="engine threads per run (default: the experiment's; 1 on Dask workers)")
    for flag, kind, text in (("--engine", str, "engine for every point"), ("--dt", float, "time step, ms"),
                             ("--duration", float, "simulated time, ms"), ("--neurons", int, "neurons per point"),
                             ("--order", int, "a network's order")):
        sweep.add_argument(flag, type=kind, default=None, help=f"{text} (default: the experiment's)")
    sweep.add_argument("--out", type=_path, default=Path("lifsim-sweep"), metavar="DIR",
                       help="output folder, new or empty (default: %(default)s)")
    sweep.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping finished batches")
    sweep.add_argument("--csv", action="store_true", help="also write sweep.csv")


def _add_fit(commands) -> None:
    fit = commands.add_parser(
        "fit", help="fit a neuron's parameters to a recording (voltage trace or spike times with the current)",
        description="Fit LIF parameters to a recording: a global search over whole populations of candidates "
                    "(differential evolution or CMA-ES on the numba engine), then gradient descent through the "
                    "TensorFlow engine. The last --test-fraction of the recording is held out and scored. Writes "
                    "fit.json, fit.toml (reruns the fitted neuron with lifsim run) and fit.png into --out. "
                    "docs/fitting.md has more.")
    fit.add_argument("data", type=_path, metavar="DATA",
                     help="the recording: .csv (columns t_ms, current_mA, and u_mV and/or spike), .npz or .nix")
    fit.add_argument("--fit", action="append", default=[], metavar="NAME=LOW:HIGH", dest="bounds",
                     help="a parameter to fit and its bounds, in its unit: tau_m, R, u_thresh, u_rest, u_reset, "
                          "tau_rest, tau_syn (e.g. tau_m=2:50); repeat for more")
    fit.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="fixed",
                     help="the value of a parameter not fitted (default: lifsim's, e.g. tau_rest=4 ms); repeatable")
    fit.add_argument("--metric", default=None, choices=("mse", "gamma", "van_rossum"),
                     help="mse (voltage, mV²), gamma (coincidence factor) or van_rossum (default: mse with a "
                          "voltage trace, else gamma)")
    fit.add_argument("--method", default="exact", choices=METHODS, help="integration method (default: %(default)s)")
    fit.add_argument("--test-fraction", type=float, default=1 / 3, metavar="F",
                     help="share of the recording held out, its end, in (0, 1) (default: 1/3)")
    fit.add_argument("--optimizer", default="de", choices=("de", "cma"),
                     help="de (scipy's differential evolution) or cma (CMA-ES) (default: %(default)s)")
    for flag, default, text in (("--population", 256, "candidates per generation, one vectorised run"),
                                ("--evaluations", 20_000, "candidates simulated per restart, at most"),
                                ("--restarts", 3, "independent searches; their spread is the uncertainty"),
                                ("--patience", 50, "generations without improvement that end a search"),
                                ("--refine-steps", 30, "gradient steps after the search (0: none)"),
                                ("--seed", 0, "the fit's seed, an integer >= 0")):
        fit.add_argument(flag, type=int, default=default, metavar="N", help=f"{text} (default: %(default)s)")
    fit.add_argument("--learning-rate", type=float, default=0.005, metavar="X",
                     help="first gradient step size in the unit box of the bounds (default: %(default)s)")
    fit.add_argument("--surrogate", default="superspike", choices=("superspike", "sigmoid", "triangle"),
                     help="the spike's surrogate derivative (default: %(default)s)")
    fit.add_argument("--surrogate-scale", type=float, default=None, metavar="BETA",
                     help="its slope, 1/mV (default: 10/(u_thresh - u_reset))")
    fit.add_argument("--reset-gradient", action="store_true",
                     help="let the gradient flow through the reset (default: detached)")
    fit.add_argument("--window-ms", type=float, default=2.0, metavar="MS",
                     help="the gamma factor's precision, ms (default: %(default)s)")
    fit.add_argument("--tau-ms", type=float, default=10.0, metavar="MS",
                     help="the van Rossum time constant, ms (default: %(default)s)")
    fit.add_argument("--precision", default="float32", choices=tuple(PRECISIONS),
                     help="precision of the runs (default: %(default)s)")
    fit.add_argument("--threads", type=int, default=None, metavar="K",
                     help="threads of the search's engine, 1 to the number of cores (default: all cores)")
    fit.add_argument("--out", type=_path, default=Path("lifsim-fit"), metavar="DIR",
                     help="output folder (default: %(default)s)")
    fit.add_argument("--quiet", action="store_true", help="print nothing but errors and the result line")


def _sweep_metrics() -> tuple:
    from .sweep.batch import METRICS

    return METRICS


def _add_show(commands) -> None:
    show = commands.add_parser("show", help="print an experiment with every default filled in, as TOML",
                               description="Print the resolved experiment (a built-in name or a .toml file) "
                                           "with every default filled in; lifsim run accepts the output.")
    show.add_argument("experiment", metavar="EXPERIMENT", help="a built-in experiment name or a .toml file")


def _add_info(commands) -> None:
    commands.add_parser("info", help="list the engines, their versions and the devices each sees",
                        description="List the engines, whether they are installed, their versions and "
                                    "the devices each sees.")


def _add_explore(commands) -> None:
    explore = commands.add_parser(
        "explore", help="explore the experiments in a web browser: sliders, live figures",
        description="Serve a page where every parameter of an experiment has a slider and the figures follow it "
                    "(the built-in experiments, and the TOML files named here); prints its address. Needs the "
                    "explore extra: pip install 'lifsim[explore]'.")
    explore.add_argument("files", nargs="*", type=_path, metavar="FILE.toml", help="experiment files to offer too")
    explore.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default: %(default)s, this machine only; another one is "
                              "warned about: anyone who reaches it can run simulations)")
    explore.add_argument("--port", type=int, default=8050, metavar="N",
                         help="port, 0 to 65535; 0 takes a free one (default: %(default)s)")
    explore.add_argument("--open", action="store_true", help="open the page in the default web browser")


def _explore(args) -> int:
    from .explore import serve

    try:
        serve(args.host, args.port, [str(f) for f in args.files], open_browser=args.open)
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not a failure
        print("lifsim explore: stopped", file=sys.stderr)
    return 0


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run", help="run an experiment: the article's square, noise, synaptic, all three, or a TOML file",
        description="Run an experiment and write EXPERIMENT.png (figure), EXPERIMENT.npz (time axis and "
                    "traces) and EXPERIMENT.json (parameters and spikes) into --out.")
    run.add_argument("experiment", metavar="EXPERIMENT",
                     help="square, noise, synaptic (the article's experiments), all (those three), fi (the "
                          "f–I curve), cuba or brunel (networks), or the path of an experiment file (.toml)")
    run.add_argument("--out", type=_path, default=Path("lifsim-out"), metavar="DIR",
                     help="directory for the figures and data files (default: %(default)s)")
    run.add_argument("--seed", type=int, default=None, metavar="N",
                     help="seed of every random draw, an integer >= 0 (default: the experiment's, "
                          "else 2018: two runs without --seed are identical)")
    run.add_argument("--engine", default=None, metavar="NAME",
                     help=f"simulation engine: {', '.join(engines.engine_names())} (default: the experiment's; "
                          "numpy for the article's single-neuron runs, numba otherwise)")
    run.add_argument("--threads", type=int, default=None, metavar="K",
                     help="worker threads of the numba and tensorflow engines, 1 to the number of cores "
                          "(default: all cores)")
    run.add_argument("--method", default=None, choices=METHODS,
                     help="integration: article (forward Euler in the article's step order) or exact "
                          "(exact propagators) (default: the experiment's, article for the article's)")
    run.add_argument("--dt", type=float, default=None, metavar="MS",
                     help="time step, ms, > 0 and <= tau_m with method article "
                          "(default: the experiment's, 1 ms for the article's)")
    run.add_argument("--duration", type=float, default=None, metavar="MS",
                     help="simulated time, ms, >= dt (default: the experiment's, 200 ms for the article's)")
    run.add_argument("--precision", default=None, choices=tuple(PRECISIONS),
                     help="floating-point precision of the state (default: the experiment's; float32 for "
                          "the article's, float64 for fi)")
    run.add_argument("--neurons", type=int, default=None, metavar="N",
                     help="population size, >= 1; each neuron gets its own input (default: the experiment's, 1). "
                          "A network is scaled to about N neurons: by its order if it has one, else in "
                          "proportion, with connection probabilities scaled to keep the expected in-degree")
    run.add_argument("--order", type=int, default=None, metavar="K",
                     help="a network with an order (brunel): its order, >= 1, which sets its population sizes "
                          "and in-degrees (default: the experiment's; brunel 2500)")
    run.add_argument("--currents", type=_currents, default=None, metavar="START:STOP:STEP",
                     help="mA: one neuron per current START, START+STEP, ... below STOP, for an experiment "
                          "with one constant current, such as fi (default: the experiment's; fi: 0:4:0.05)")
    run.add_argument("--save", type=_path, default=None, metavar="FILE.nix",
                     help="also write the run(s) as Neo objects to a NIX file (default: none)")
    run.add_argument("--stream", type=_path, default=None, metavar="DIR",
                     help="stream each run into DIR/RUN as it goes (RUN: the experiment's name, with -METHOD when "
                          "it runs several methods): segments of spikes and traces, each with a checkpoint; a "
                          "killed run continues with --resume (default: no stream)")
    run.add_argument("--resume", action="store_true",
                     help="with --stream: continue each run from its last committed segment (the same run, "
                          "checked); a finished stream is read back, a missing one begun")
    run.add_argument("--segment-s", type=float, default=None, metavar="S",
                     help="with --stream: wall-clock seconds between two commits, >= 0 (default: 10)")
    _add_tensorflow_options(run)
    run.add_argument("--quiet", action="store_true", help="print nothing but errors; no progress bar")


def _add_export(commands) -> None:
    export = commands.add_parser(
        "export", help="write a finished stream's run as the files of lifsim run (and NIX)",
        description="Read a finished stream (lifsim run --stream) and write what lifsim run writes for it "
                    "into --out: RUN.png, RUN.npz, RUN.json and RUN.timings.json; with --save, a NIX file too.")
    export.add_argument("stream", type=_path, metavar="STREAM", help="the stream of one run (DIR/RUN)")
    export.add_argument("--out", type=_path, default=Path("lifsim-out"), metavar="DIR",
                        help="directory for the figure and data files (default: %(default)s)")
    export.add_argument("--save", type=_path, default=None, metavar="FILE.nix",
                        help="also write the run as Neo objects to a NIX file (default: none)")
    export.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _add_tensorflow_options(parser) -> None:
    parser.add_argument("--device", default=None, choices=("cpu", "gpu"),
                        help="tensorflow engine only: run on this device (default: the GPU if TensorFlow sees one)")
    parser.add_argument("--no-xla", action="store_true",
                        help="tensorflow engine only: do not compile the loop with XLA (jit_compile off)")


def engine_options(args, engine: str) -> tuple:
    """The engine-specific switches of the command line, checked against the engine."""
    options = {}
    if args.device is not None:
        options["device"] = args.device
    if args.no_xla:
        options["jit_compile"] = False
    if options and engine != "tensorflow":
        raise ParameterError(f"--device and --no-xla apply to the tensorflow engine only (engine is {engine!r})")
    return tuple(options.items())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.saved = []  # the experiments whose outputs are all written, for an interrupted run's note
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return COMMANDS[args.command](args)
    except ParameterError as error:
        print(f"lifsim: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.command == "sweep":
            print(f"\nlifsim: interrupted; the finished batches are in {args.out}/batches: continue with --resume",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        saved = f"saved {', '.join(args.saved)} in {args.out}" if args.saved else "nothing was saved"
        print(f"\nlifsim: interrupted; {saved}{_streamed(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _streamed(args) -> str:
    """What the streams of an interrupted run hold, for its note."""
    from .io.stream import StreamError, read_manifest

    held = []
    for folder in getattr(args, "streams", ()):
        try:
            manifest = read_manifest(folder)
        except StreamError:
            continue
        if manifest["segments"] and not manifest["complete"]:
            reached = manifest["segments"][-1]["k1"] * manifest["dt_ms"]
            held.append(f"{folder} holds {reached:g} of {manifest['steps'] * manifest['dt_ms']:g} ms")
    return f"; {', '.join(held)}: continue with --resume" if held else ""


def entry() -> None:
    """The ``lifsim`` command: `main`, then exit with its status.

    Before exiting, every object is moved out of the garbage collector's reach
    (``gc.freeze``): the interpreter's last full collection would otherwise walk numba's
    and LLVM's many objects for about 0.2 s, and nothing of lifsim's waits for it (its files
    are closed when written).
    """
    status = main()
    gc.freeze()
    if status == EXIT_INTERRUPTED:
        # leave at once: the thread drawing input ahead may still be busy, and the
        # interpreter's shutdown would wait for it (and, now and then, die of the signal)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"lifsim: warning: {message}", file=sys.stderr)


def _run(args) -> int:
    from .io import experiment_file as experiment
    from .simulation.simulate import preflight

    names = ARTICLE_EXPERIMENTS if args.experiment == "all" else (args.experiment,)
    overrides = dict(engine=args.engine, method=args.method, dt_ms=args.dt, duration_ms=args.duration,
                     seed=args.seed, precision=args.precision, neurons=args.neurons, threads=args.threads,
                     currents=args.currents, order=args.order)
    loaded = [experiment.load(name, **overrides) for name in names]  # all checked before any run
    options = [engine_options(args, exp.config.engine) for exp in loaded]
    streams = _stream_folders(args, loaded)
    for exp, engine_switches in zip(loaded, options):
        for config in exp.configs():
            preflight(config, engine_options=engine_switches, outputs=True)
    if args.save is not None:
        from .io.neo_io import check_nix_path

        check_nix_path(args.save)
    everything = []  # every run's result, for the one NIX file of --save
    with _out_folder(args.out):
        for exp, engine_switches, folders in zip(loaded, options, streams):
            everything += _run_experiment(args, exp, engine_switches, folders)
        if args.save is not None:
            from .io.neo_io import block_names, save_nix

            saved = save_nix(everything, args.save)
            if not args.quiet:
                print(f"wrote {saved}: one Neo block per run ({', '.join(block_names(everything))})")
    return 0


def _run_experiment(args, exp, engine_switches, folders) -> list:
    """Run one experiment (one run per method), write its files, print its summary; returns
    its results."""
    from .io.experiment_file import render
    from .io.outputs import summary_text, write_outputs
    from .simulation.simulate import simulate

    results = [simulate(config, progress=not args.quiet, engine_options=engine_switches, stream=folder,
                        resume=args.resume, segment_s=args.segment_s,
                        stream_description=None if folder is None else render(exp.only(config)))
               for config, folder in zip(exp.configs(), folders)]
    written = write_outputs(exp, results, args.out)
    args.saved.append(exp.config.name)
    if not args.quiet:
        print(summary_text(exp, results, written))
    return results


def _stream_folders(args, loaded) -> list:
    """Each run's stream folder (None without --stream), checked before any run."""
    from .io.stream import SEGMENT_SECONDS, check_folder

    if args.stream is None:
        for option, given in (("--resume", args.resume), ("--segment-s", args.segment_s is not None)):
            if given:
                raise ParameterError(f"{option} needs --stream DIR")
        return [[None] * len(exp.configs()) for exp in loaded]
    if args.segment_s is None:
        args.segment_s = SEGMENT_SECONDS
    require_range("--segment-s", args.segment_s, low=0.0, unit="s")
    folders = [[args.stream / (exp.config.name if len(exp.configs()) == 1 else f"{exp.config.name}-{c.method}")
                for c in exp.configs()] for exp in loaded]
    args.streams = [folder for run_folders in folders for folder in run_folders]
    for folder in args.streams:
        check_folder(folder, args.resume)
    return folders


def _export(args) -> int:
    from .io import experiment_file as experiment
    from .io.outputs import summary_text, write_outputs
    from .io.stream import EXPERIMENT, StreamError, read_manifest
    from .simulation.simulate import simulate

    manifest = read_manifest(args.stream)
    if not manifest["complete"]:
        reached = manifest["segments"][-1]["k1"] if manifest["segments"] else 0
        raise StreamError(f"stream {args.stream} is not finished ({reached} of {manifest['steps']} steps): "
                          "continue it with lifsim run ... --stream --resume first")
    if args.save is not None:
        from .io.neo_io import check_nix_path

        check_nix_path(args.save)
    exp = experiment.load(str(args.stream / EXPERIMENT))
    with _out_folder(args.out):
        result = simulate(exp.config, stream=args.stream, resume=True)
        written = write_outputs(exp, [result], args.out)
        if args.save is not None:
            from .io.neo_io import save_nix

            written.append(save_nix([result], args.save))
    if not args.quiet:
        print(summary_text(exp, [result], written))
    return 0


@contextmanager
def _out_folder(out: Path):
    """``out`` made, and checked to take files, before any run; removed again if it was
    made here and a run failed before anything was written into it."""
    made = [p for p in (out, *out.parents) if not p.exists()]
    _make_out(out)
    try:
        yield
    except BaseException:
        for folder in made:  # innermost first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".lifsim-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ParameterError(f"out must be a folder that can be created or written ({error.strerror}: {out})")


def _currents(text: str) -> np.ndarray:
    """START:STOP:STEP (mA) as the currents START, START+STEP, ... below STOP."""
    try:
        start, stop, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be START:STOP:STEP in mA, such as 0:4:0.05 (got {text!r})")
    if not (np.isfinite([start, stop, step]).all() and step > 0 and stop > start):
        raise argparse.ArgumentTypeError(f"needs finite numbers with STEP > 0 and STOP > START (got {text!r})")
    try:
        return grid(start, stop, step, "--currents")
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _bench(args) -> int:
    from .bench import case_config, format_row, run_case

    config = case_config(args.case, neurons=args.neurons, duration_ms=args.duration, dt_ms=args.dt,
                         engine=args.engine, threads=args.threads, method=args.method, precision=args.precision,
                         order=args.order, seed=args.seed)
    row = run_case(config, args.case, engine_options(args, config.engine), progress=not args.quiet)
    print(json.dumps(row) if args.json else format_row(row))
    return 0


def _sweep(args) -> int:
    try:
        from .sweep import sweep
        import pyarrow  # noqa: F401
        import xarray  # noqa: F401
    except ImportError as error:
        raise ParameterError(f"lifsim sweep needs the sweep extra ({error.name} is missing): "
                             "pip install 'lifsim[sweep]'") from None
    listed = {name: None if text is None else [v.strip() for v in text.split(",") if v.strip()]
              for name, text in (("metrics", args.metrics), ("plot", args.plot))}
    result = sweep(args.experiment, args.grid, out=args.out, trials=args.trials, seed=args.seed,
                   metrics=listed["metrics"], plot=listed["plot"], workers=args.workers, scheduler=args.scheduler,
                   batch_neurons=args.batch_neurons, resume=args.resume, csv=args.csv, threads=args.threads,
                   progress=sys.stderr.isatty(), engine=args.engine, dt_ms=args.dt, duration_ms=args.duration,
                   neurons=args.neurons, order=args.order)
    t = result.timings
    dask = f", Dask start {t['dask_start_s']:.1f} s" if t["dask_start_s"] else ""
    resumed = f", {_count(t['resumed'], 'batch')} done before" if t["resumed"] else ""
    print(f"sweep: {_count(result.table.num_rows, 'row')} ({_count(t['batches'], 'batch')}{resumed}) in "
          f"{t['total_s']:.1f} s{dask}; "
          f"wrote {', '.join(Path(f).name for f in result.files)} in {args.out}")
    return 0


def _fit(args) -> int:
    from .fit.fitting import fit
    from .fit.report import save

    bounds = dict(_pair(text, "--fit", "NAME=LOW:HIGH", _bounds) for text in args.bounds)
    fixed = dict(_pair(text, "--set", "NAME=VALUE", _number) for text in args.fixed)
    model = _fixed_model(fixed, bounds)
    note = None if args.quiet else _fit_progress(args)
    with _out_folder(args.out):
        result = fit(args.data, bounds, model, metric=args.metric, method=args.method,
                     test_fraction=args.test_fraction, optimizer=args.optimizer, population=args.population,
                     evaluations=args.evaluations, restarts=args.restarts, patience=args.patience,
                     refine_steps=args.refine_steps,
                     learning_rate=args.learning_rate, surrogate=args.surrogate,
                     surrogate_scale=args.surrogate_scale, detach_reset=not args.reset_gradient,
                     window_ms=args.window_ms, tau_ms=args.tau_ms, seed=args.seed, precision=args.precision,
                     threads=args.threads, report=note)
        files = save(result, args.out)
    fitted = ", ".join(f"{k} = {v:.6g} ± {result.spread[k]:.2g} {result.units[k]}"
                       for k, v in result.parameters.items())
    print(f"fit: {fitted}; {result.metric} train {result.train_score:.6g}, held out {result.test_score:.6g}; "
          f"{result.evaluations} simulations, {result.gradient_steps} gradient steps, "
          f"{result.timings['total_s']:.1f} s; wrote {', '.join(p.name for p in files)} in {args.out}")
    return 0


def _pair(text: str, flag: str, form: str, parse):
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"{flag} must be {form} (got {text!r})")
    return name.strip(), parse(value, f"{flag} {name.strip()}")


def _bounds(text: str, name: str) -> tuple:
    parts = text.split(":")
    if len(parts) != 2:
        raise ParameterError(f"{name} must be LOW:HIGH (got {text!r})")
    return tuple(_number(p, name) for p in parts)


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{name} must be a number (got {text!r})") from None
    if not np.isfinite(value):
        raise ParameterError(f"{name} must be a finite number (got {text!r})")
    return value


def _fixed_model(fixed: dict, bounds: dict):
    from .neuron.params import UNITS, LIFParams

    for name in fixed:
        if name not in UNITS:
            raise ParameterError(f"--set: unknown parameter {name!r}; the model's parameters are {', '.join(UNITS)}")
        if name in bounds:
            raise ParameterError(f"--set {name}: it is fitted (--fit {name}); set it or fit it, not both")
    return LIFParams(**fixed)


def _fit_progress(args):
    def note(stage, restart, count, score, best):
        if stage == "search" and count % (args.population * 10) < args.population:
            print(f"  search, restart {restart + 1}/{args.restarts}: {count} simulations, best {score:.6g}",
                  file=sys.stderr)
        elif stage == "refine" and (count % 10 == 0 or count == args.refine_steps):
            print(f"  refinement step {count}/{args.refine_steps}: smooth loss {score:.6g}", file=sys.stderr)
    return note


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}es" if noun.endswith("ch") else f"{n} {noun}s"


def _info(args) -> int:
    print(f"lifsim {__version__} (Python {sys.version.split()[0]})")
    for name in engines.engine_names():
        try:
            engine = engines.load_engine(name)
        except ParameterError as error:
            print(f"  {name}: not installed ({error})")
            continue
        print(f"  {name} {engine.version()}: devices {', '.join(engine.devices())}")
    return 0


def _show(args) -> int:
    from .io import experiment_file as experiment

    print(experiment.render(experiment.load(args.experiment)), end="")
    return 0


COMMANDS = {"run": _run, "bench": _bench, "export": _export, "sweep": _sweep, "fit": _fit, "show": _show,
            "info": _info, "explore": _explore}
