"""kill -9 streamed runs at random moments, resume them, and compare with a run never killed.

    python benchmarks/kill_resume.py                      # 30 trials, Brunel order 1000, 1 s
    python benchmarks/kill_resume.py --trials 2 --order 100 --duration 200

Each trial starts ``lifsim run brunel --stream`` (a commit after every chunk), kills it with
SIGKILL after a random moment (uniform up to ``--within`` seconds), half of the trials kill
the resumed run once more, checks that every committed segment is readable (checksums),
resumes to the end and compares the NPZ and JSON byte for byte with the uninterrupted run's.
It prints the kills, how many segments each kill left committed, and how many trials came
out identical.
"""

from __future__ import annotations

import argparse
import filecmp
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lifsim.io.stream import MANIFEST, read


def lifsim(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lifsim", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def trial(run: list, root: Path, rng: random.Random, within: float) -> tuple[int, list]:
    """One trial: kills, then a resume to the end; the kills, and the committed segment count
    at each kill that found a stream begun."""
    stream, out = root / "stream", root / "out"
    shutil.rmtree(stream, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    committed, kills = [], 1 + (rng.random() < 0.5)
    for attempt in range(kills):
        process = lifsim(*run, "--out", str(out), "--stream", str(stream), "--segment-s", "0",
                         *(["--resume"] if attempt else []))
        time.sleep(rng.uniform(0.0, within))
        process.kill()
        process.wait()
        if (stream / "brunel" / MANIFEST).exists():
            committed.append(len(read(stream / "brunel").manifest["segments"]))
    resumed = lifsim(*run, "--out", str(out), "--stream", str(stream), "--resume")
    if resumed.wait() != 0:
        raise SystemExit(resumed.stderr.read())
    return kills, committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--order", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=1000.0)
    parser.add_argument("--within", type=float, default=None,
                        help="seconds after the start within which to kill (default: the run's own length)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = ["run", "brunel", "--order", str(args.order), "--duration", str(args.duration), "--quiet"]
    root = Path(tempfile.mkdtemp(prefix="lifsim-kill-"))
    started = time.perf_counter()
    if lifsim(*run, "--out", str(root / "reference")).wait() != 0:
        raise SystemExit("the reference run failed")
    within = args.within or time.perf_counter() - started
    rng, kills, committed, identical = random.Random(args.seed), 0, [], 0
    for _ in range(args.trials):
        killed, seen = trial(run, root, rng, within)
        kills, committed = kills + killed, committed + seen
        identical += all(filecmp.cmp(root / "reference" / name, root / "out" / name, shallow=False)
                         for name in ("brunel.npz", "brunel.json"))
    shutil.rmtree(root)
    print(f"{kills} kills; committed segments at each kill that found a stream begun: {sorted(committed)}")
    print(f"{identical} of {args.trials} resumed runs byte-identical to the run never killed")


if __name__ == "__main__":
    main()
