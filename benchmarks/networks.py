"""lifsim against Brian2 (C++ standalone) and NEST on the CUBA and Brunel networks, side by side.

    python benchmarks/networks.py                        # speed: CUBA and Brunel, medians of 3
    python benchmarks/networks.py --validate 10          # rates and ISI CVs over 10 seeds each
    python benchmarks/networks.py --networks cuba --repeats 1 --peers ""   # lifsim alone, quickly

Run it with the Python that has lifsim installed; the peers run in their own venv, set up
as ``benchmarks/peers.py`` does (Brian2 >= 2.10 and NEST 3.10.0 on Python >= 3.12). The
networks are lifsim's built-in ``cuba`` and ``brunel`` and, for the peers,
``benchmarks/peer_networks.py``, which builds them as Brian2's ``examples/CUBA.py`` and NEST's
``brunel_delta_nest.py`` do.

Speed: every run is a fresh process pinned with ``taskset``; each configuration runs once
to warm its caches (Brian2's compiled code, numba's kernels), then the configurations take
turns ``--repeats`` times (so that a slow spell of the machine falls on all of them); Brian2
also runs as a first run does ("compiling": its build folder emptied before each run, so the
process includes compiling the C++ code); the table shows medians. "loop" is the simulation alone (lifsim: input generation and the
engine's loop; Brian2: the compiled binary's run; NEST: ``Simulate``); "process" the whole
process from start to exit; peak RSS includes child processes.

Validation (``--validate K``): each simulator runs each network with seeds 0..K-1; for every
population the mean rate and the mean ISI CV are compared with lifsim's: they agree when the
means differ by less than 3 combined standard errors (over seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
from datetime import date
from pathlib import Path

from peers import _cpu, find_python, measure, set_up_peers, versions

HERE = Path(__file__).resolve().parent
PEERS = ("brian2-standalone", "nest")
SCALE_OPTION = {"cuba": "--neurons", "brunel": "--order"}


def lifsim_command(network, scale, duration, threads, seed=0, python=sys.executable):
    command = [str(python), "-m", "lifsim", "bench", network, "--duration", str(duration), "--threads", str(threads),
               "--seed", str(seed), "--json"]
    return command + ([SCALE_OPTION[network], str(scale)] if scale else [])


def peer_command(peer_python, peer, network, scale, duration, build_dir, seed=0):
    command = [str(peer_python), str(HERE / "peer_networks.py"), peer, network, "--duration", str(duration),
               "--build-dir", str(build_dir), "--seed", str(seed)]
    return command + (["--scale", str(scale)] if scale else [])


def loop_of(row: dict) -> float:
    return row["wall_s"] if "wall_s" in row else row["loop_s"]


def speed(args, peer_python, work) -> dict:
    report = {}
    for network in args.networks.split(","):
        scale = args.cuba_neurons if network == "cuba" else args.brunel_order
        python = args.lifsim_python
        configs = [("lifsim numba, 1 thread", lifsim_command(network, scale, args.duration, 1, python=python),
                     args.cores, None),
                   ("lifsim numba, 2 threads", lifsim_command(network, scale, args.duration, 2, python=python),
                    args.cores_2, None)]
        configs += [(peer, peer_command(peer_python, peer, network, scale, args.duration, work / f"{peer}-{network}"),
                     args.cores, None) for peer in args.peer_list]
        if "brian2-standalone" in args.peer_list:  # as a first run does: compiling into an empty folder
            fresh = work / f"brian2-standalone-{network}-fresh"
            configs.append(("brian2-standalone, compiling", peer_command(peer_python, "brian2-standalone", network,
                                                                         scale, args.duration, fresh), args.cores, fresh))
        for _, command, cores, fresh in configs:  # warm-up: compile and fill the caches, not counted
            measure(command, cores, work)
        rows = {label: [] for label, _, _, _ in configs}
        for _ in range(args.repeats):
            for label, command, cores, fresh in configs:
                if fresh is not None:
                    shutil.rmtree(fresh, ignore_errors=True)
                rows[label].append(measure(command, cores, work))
        report[network] = [{"label": label, "loop_s": statistics.median(loop_of(r) for r in runs),
                            "loops": [loop_of(r) for r in runs],
                            "process_s": statistics.median(r["process_s"] for r in runs),
                            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
                            "build_s": _median_build(runs),
                            "spikes": runs[0]["spikes"], "rates": _rates(runs[0])}
                           for label, runs in rows.items()]
        print(speed_table(network, report[network]), flush=True)
    return report


def _median_build(runs: list):
    """The median build time, or None where the simulator does not report one (Brian2
    standalone builds its synapses inside the binary's run)."""
    times = [r["build_s"] for r in runs if "build_s" in r]
    return statistics.median(times) if times else None


def _rates(row: dict) -> dict:
    if "rates_hz" in row:
        return row["rates_hz"]
    return {name: values["rate_hz"] for name, values in row["populations"].items()}


def _cvs(row: dict) -> dict:
    if "cv_isi" in row:
        return row["cv_isi"]
    return {name: values["cv_isi"] for name, values in row["populations"].items()}


def speed_table(network: str, rows: list) -> str:
    lifsim_1, lifsim_2 = rows[0], rows[1]
    lines = [f"\n{network}: loop and whole process, medians of {len(lifsim_1['loops'])} (lifsim 1 thread / 2 threads:"
             f" {lifsim_1['loop_s'] / lifsim_2['loop_s']:.2f}×)",
             "| run | loop (s) | process (s) | build (s) | peak RSS (MiB) | rates (Hz) | loop: lifsim 1-thread "
             "speed-up | process: speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        peer = not row["label"].startswith("lifsim")
        rates = ", ".join(f"{k} {v:.2f}" for k, v in row["rates"].items())
        loop_gain = f"{row['loop_s'] / lifsim_1['loop_s']:.1f}×" if peer else "—"
        process_gain = f"{row['process_s'] / lifsim_1['process_s']:.1f}×" if peer else "—"
        build = "—" if row["build_s"] is None else f"{row['build_s']:.3f}"
        lines.append(f"| {row['label']} | {row['loop_s']:.3f} | {row['process_s']:.2f} | {build} | "
                     f"{row['peak_rss_mib']:.0f} | {rates} | {loop_gain} | {process_gain} |")
    return "\n".join(lines)


def validate(args, peer_python, work) -> dict:
    report = {}
    for network in args.networks.split(","):
        scale = args.cuba_neurons if network == "cuba" else args.brunel_order
        commands = {"lifsim": lambda seed: lifsim_command(network, scale, args.duration, 1, seed)}
        for peer in args.peer_list:
            commands[peer] = (lambda seed, peer=peer: peer_command(peer_python, peer, network, scale, args.duration,
                                                                   work / f"{peer}-{network}", seed))
        samples = {}
        for name, command in commands.items():
            runs = [measure(command(seed), args.cores, work) for seed in range(args.validate)]
            samples[name] = {"rates": [_rates(r) for r in runs], "cvs": [_cvs(r) for r in runs]}
        report[network] = samples
        print(validation_table(network, samples), flush=True)
    return report


def _mean_se(values):
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")


def validation_table(network: str, samples: dict) -> str:
    populations = list(samples["lifsim"]["rates"][0])
    seeds = len(samples["lifsim"]["rates"])
    lines = [f"\n{network}: mean over {seeds} seeds ± standard error; agreement: |difference| < 3 combined SE",
             "| simulator | population | rate (Hz) | ISI CV | rate agrees | CV agrees |", "|---|---|---|---|---|---|"]
    for name, sample in samples.items():
        for population in populations:
            rate = _mean_se([r[population] for r in sample["rates"]])
            cv = _mean_se([c[population] for c in sample["cvs"]])
            if name == "lifsim":
                verdicts = ("—", "—")
            else:
                verdicts = tuple(_agrees(mine, theirs) for mine, theirs in (
                    (_mean_se([r[population] for r in samples["lifsim"]["rates"]]), rate),
                    (_mean_se([c[population] for c in samples["lifsim"]["cvs"]]), cv)))
            lines.append(f"| {name} | {population} | {rate[0]:.3f} ± {rate[1]:.3f} | {cv[0]:.4f} ± {cv[1]:.4f} | "
                         f"{verdicts[0]} | {verdicts[1]} |")
    return "\n".join(lines)


def _agrees(mine, theirs) -> str:
    gap, combined = abs(mine[0] - theirs[0]), math.hypot(mine[1], theirs[1])
    return f"{'yes' if gap < 3 * combined else 'NO'} ({gap / combined:.1f} SE)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", default="cuba,brunel", help="comma-separated (default: %(default)s)")
    parser.add_argument("--cuba-neurons", type=int, default=None, help="CUBA size (default: 4000)")
    parser.add_argument("--brunel-order", type=int, default=None, help="Brunel order (default: 2500)")
    parser.add_argument("--duration", type=float, default=1000.0, help="simulated ms (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per configuration (default: %(default)s)")
    parser.add_argument("--validate", type=int, default=0, metavar="K",
                        help="instead of timing, compare rates and CVs over K seeds (default: off)")
    parser.add_argument("--cores", default="0", help="cores for single-threaded runs (default: %(default)s)")
    parser.add_argument("--cores-2", default="0,1", help="cores for lifsim's two-thread run (default: %(default)s)")
    parser.add_argument("--peers", default=",".join(PEERS), help="peers to run (default: %(default)s)")
    parser.add_argument("--peers-venv", type=Path, default=HERE / ".peers-venv")
    parser.add_argument("--peers-python", default=None, help="Python >= 3.12 for the peers' venv")
    parser.add_argument("--lifsim-python", type=lambda p: Path(p).absolute(), default=Path(sys.executable),
                        help="the Python that runs lifsim (default: this one), e.g. a venv made with the README's "
                             "first command, without the test extra")
    parser.add_argument("--json", type=Path, default=None, help="also write all figures to this file")
    args = parser.parse_args()
    args.peer_list = [p for p in args.peers.split(",") if p]
    peer_python = set_up_peers(args.peers_venv, find_python(args.peers_python)) if args.peer_list else None
    work = HERE / ".peers-work"
    work.mkdir(exist_ok=True)
    report = {"date": date.today().isoformat(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "versions": versions(peer_python), "cpu": _cpu()}
    report["validation" if args.validate else "speed"] = (validate if args.validate else speed)(args, peer_python, work)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
