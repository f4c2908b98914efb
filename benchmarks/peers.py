"""lifsim against Brian2 and NEST on benchmark cases A and B, side by side, in one invocation.

    python benchmarks/peers.py                 # set up the peers if needed, run everything
    python benchmarks/peers.py --cases A --repeats 1 --neurons-a 10000   # a quicker look

Run it with the Python that has lifsim installed. It creates the peers' virtual
environment (``--peers-venv``, default ``benchmarks/.peers-venv``) with a Python >= 3.12
(``--peers-python``) and installs Brian2 >= 2.10, NEST 3.10.0 (its PyPI wheel) and
Cython into it. Every run is a fresh process pinned with ``taskset`` to the same cores;
each configuration runs once to warm its caches (Brian2's compiled code, numba's kernels)
and then ``--repeats`` times; the table shows medians. Columns:

- loop: the simulation alone (lifsim: input generation and the engine's loop; Brian2
  standalone: the compiled binary's run; Brian2 cython and NEST: the run call);
- process: the whole process, start to exit (import, set-up, compilation, run);
- peak RSS: the process's peak resident memory, its children included;
- speed-up: lifsim's loop (1 thread unless stated) against each peer's loop.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = ("brian2-standalone", "brian2-cython", "nest")
PEER_PACKAGES = ["brian2>=2.10", "nest-simulator==3.10.0", "cython", "setuptools"]


def find_python(explicit: str | None) -> str:
    if explicit:
        return explicit
    for version in ("3.13", "3.12"):
        found = shutil.which(f"python{version}")
        # a pyenv shim is on the PATH even where that version is not selected, and then fails
        if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
            return found
        pyenv = Path.home() / ".pyenv" / "versions"
        for candidate in sorted(pyenv.glob(f"{version}.*"), reverse=True):
            if (candidate / "bin" / "python").exists():
                return str(candidate / "bin" / "python")
    sys.exit("peers.py: no Python >= 3.12 found for Brian2 >= 2.10; pass --peers-python")


def set_up_peers(venv: Path, python: str) -> Path:
    """The peers' venv, created and filled if it is not there yet; returns its python."""
    peer_python = venv / "bin" / "python"
    if not peer_python.exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(peer_python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(peer_python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return peer_python


def versions(peer_python: Path | None) -> dict:
    peer = {}
    if peer_python is not None:
        code = ("import json, brian2, nest, numpy, sys; print(json.dumps({'python': sys.version.split()[0], "
                "'brian2': brian2.__version__, 'nest': nest.__version__, 'numpy': numpy.__version__}))")
        out = subprocess.run([str(peer_python), "-c", code], capture_output=True, text=True, check=True).stdout
        peer = json.loads(out.strip().splitlines()[-1])
    import numba
    import numpy

    import lifsim

    return {"lifsim": lifsim.__version__, "numba": numba.__version__, "numpy (lifsim)": numpy.__version__,
            "python (lifsim)": sys.version.split()[0], **{f"{k} (peers)" if k in ("python", "numpy") else k: v
                                                           for k, v in peer.items()}}


# Runs one command in a fresh interpreter, so that RUSAGE_CHILDREN covers that command alone.
_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - start
print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr[-3000:], "process_s": elapsed,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measure(command: list[str], cores: str, cwd: Path) -> dict:
    """Run one pinned process: its JSON line, whole-process seconds and peak RSS (its children included)."""
    wrapped = subprocess.run([sys.executable, "-c", _WRAPPER, "taskset", "-c", cores, *command],
                             capture_output=True, text=True, check=True, cwd=cwd)
    outcome = json.loads(wrapped.stdout)
    if outcome["rc"] != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{outcome['err']}")
    row = json.loads([line for line in outcome["out"].splitlines() if line.startswith("{")][-1])
    row.update(process_s=outcome["process_s"], peak_rss_mib=outcome["peak_rss_mib"])
    return row


def lifsim_command(case, neurons, duration, threads):
    return [sys.executable, "-m", "lifsim", "bench", case, "--neurons", str(neurons), "--duration", str(duration),
            "--threads", str(threads), "--json"]


def peer_command(peer_python, peer, case, neurons, duration, build_dir):
    return [str(peer_python), str(HERE / "peer_cases.py"), peer, case, "--neurons", str(neurons),
            "--duration", str(duration), "--build-dir", str(build_dir)]


def run_configuration(label, command, cores, repeats, cwd) -> dict:
    """Warm once (compilation, caches; not counted), then ``repeats`` runs; medians."""
    measure(command, cores, cwd)
    rows = [measure(command, cores, cwd) for _ in range(repeats)]
    loops = [r["wall_s"] if "wall_s" in r else r["loop_s"] for r in rows]
    return {"label": label, "loop_s": statistics.median(loops),
            "process_s": statistics.median(r["process_s"] for r in rows),
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in rows),
            "spikes": rows[0]["spikes"], "loops": loops}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="A,B", help="comma-separated cases (default: %(default)s)")
    parser.add_argument("--neurons-a", type=int, default=100_000, help="case A size (default: %(default)s)")
    parser.add_argument("--neurons-b", type=int, default=10_000, help="case B size (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=1000.0, help="simulated ms (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per configuration (default: %(default)s)")
    parser.add_argument("--cores", default="0",
                        help="cores for single-threaded runs, taskset list (default: %(default)s)")
    parser.add_argument("--cores-2", default="0,1",
                        help="cores for lifsim's two-thread run (default: %(default)s)")
    parser.add_argument("--peers", default=",".join(PEERS), help="peers to run (default: %(default)s)")
    parser.add_argument("--peers-venv", type=Path, default=HERE / ".peers-venv")
    parser.add_argument("--peers-python", default=None, help="Python >= 3.12 for the peers' venv")
    parser.add_argument("--json", type=Path, default=None, help="also write all figures to this file")
    args = parser.parse_args()

    peers = [p for p in args.peers.split(",") if p]
    peer_python = set_up_peers(args.peers_venv, find_python(args.peers_python)) if peers else None
    work = HERE / ".peers-work"
    work.mkdir(exist_ok=True)
    report = {"date": date.today().isoformat(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "versions": versions(peer_python), "cpu": _cpu(), "cases": {}}
    for case in args.cases.split(","):
        neurons = args.neurons_a if case == "A" else args.neurons_b
        rows = [run_configuration("lifsim numba, 1 thread", lifsim_command(case, neurons, args.duration, 1),
                                  args.cores, args.repeats, work),
                run_configuration("lifsim numba, 2 threads", lifsim_command(case, neurons, args.duration, 2),
                                  args.cores_2, args.repeats, work)]
        for peer in peers:
            build = work / f"standalone-{case}"
            rows.append(run_configuration(peer, peer_command(peer_python, peer, case, neurons, args.duration, build),
                                          args.cores, args.repeats, work))
        report["cases"][case] = {"neurons": neurons, "steps": int(round(args.duration / 0.1)), "rows": rows}
        print(table(case, report["cases"][case]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({"versions": report["versions"], "date": report["date"], "cpu": report["cpu"]}))


def table(case: str, data: dict) -> str:
    neuron_steps = data["neurons"] * data["steps"]
    lifsim_loop = data["rows"][0]["loop_s"]
    lines = [f"\nCase {case}: {data['neurons']} neurons × {data['steps']} steps",
             "| run | loop (s) | neuron-steps/s | process (s) | peak RSS (MiB) | spikes | lifsim 1-thread speed-up |",
             "|---|---|---|---|---|---|---|"]
    for row in data["rows"]:
        speedup = row["loop_s"] / lifsim_loop
        lines.append(f"| {row['label']} | {row['loop_s']:.3f} | {neuron_steps / row['loop_s']:.3g} | "
                     f"{row['process_s']:.2f} | {row['peak_rss_mib']:.0f} | {row['spikes']} | "
                     f"{'—' if row['label'].startswith('lifsim') else f'{speedup:.1f}×'} |")
    return "\n".join(lines)


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} logical CPUs"
    except OSError:
        pass
    return f"{os.cpu_count()} logical CPUs"


if __name__ == "__main__":
    main()
