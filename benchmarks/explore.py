"""lifsim explore: the time from a slider change to the redrawn figure, measured in the browser.

Starts ``lifsim explore`` on a free port, opens it in headless Chromium from the system's
packages (Playwright with ``executable_path``), and for each experiment moves one slider a
step at a time, back and forth: the page's clock runs from the ``input`` event to the
moment the figures are drawn on their canvases (``drawn``), and to the next frame the
browser paints (``painted``). ``server`` is the server's own time for the run (checks, run,
figure data). Prints a Markdown table of medians and 90th percentiles, in ms.

    python benchmarks/explore.py [--changes 50] [--experiments square,noise,synaptic,fi]
                                 [--screenshot docs/figures/explore.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

#: The slider each experiment's changes move.
SLIDERS = {"square": "stimulus.0.pulses.1.2", "noise": "stimulus.0.mean", "synaptic": "stimulus.0.rate_hz",
           "fi": "model.tau_m", "cuba": "projection.0.weight", "brunel": "stimulus.0.rate_hz"}
#: Changes made and not timed first (numba's kernels load, the page's plots are made).
WARM_UP = 3

MEASURE = """async ([key, changes]) => {
  const slider = document.querySelector(`.control[data-key="${key}"] input[type=range]`);
  const out = [];
  for (let i = 0; i < changes; i++) {
    const drawing = window.lifsim.nextDrawing();
    const start = performance.now();
    if (i % 2 === 0) slider.stepUp(); else slider.stepDown();
    slider.dispatchEvent(new Event("input", {bubbles: true}));
    await drawing;
    const drawn = performance.now() - start;
    await new Promise((r) => requestAnimationFrame(r));
    out.push([drawn, performance.now() - start, window.lifsim.last.server_ms]);
  }
  return out;
}"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50, help="timed slider changes per experiment")
    parser.add_argument("--experiments", default="square,noise,synaptic,fi",
                        help=f"comma-separated, among {', '.join(SLIDERS)}")
    parser.add_argument("--screenshot", type=Path, default=None, help="also save the synaptic page as this PNG")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs the system's chromium (apt-get install chromium)")
    server = subprocess.Popen([sys.executable, "-m", "lifsim", "explore", "--port", "0"], stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=_package_parent()))
    try:
        url = server.stdout.readline().split()[4]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            rows = [measure(page, url, name, args.changes) for name in args.experiments.split(",")]
            if args.screenshot is not None:
                screenshot(page, url, args.screenshot)
            version = browser.version
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"Chromium {version} (headless), {args.changes} changes per experiment after {WARM_UP} untimed; ms\n")
    print("| experiment | slider | drawn, median | drawn, 90th pct | painted, median | server, median |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


def _package_parent() -> str:
    import lifsim

    return str(Path(lifsim.__file__).resolve().parents[1])


def measure(page, url: str, name: str, changes: int) -> list[str]:
    page.goto(f"{url}?exp={name}")
    page.wait_for_function("window.lifsim && window.lifsim.drawn > 0", timeout=300_000)
    page.evaluate(MEASURE, [SLIDERS[name], WARM_UP])
    times = page.evaluate(MEASURE, [SLIDERS[name], changes])
    drawn, painted, server = zip(*times)
    return [name, f"`{SLIDERS[name]}`", f"{statistics.median(drawn):.1f}", f"{_percentile(drawn, 0.9):.1f}",
            f"{statistics.median(painted):.1f}", f"{statistics.median(server):.1f}"]


def _percentile(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def screenshot(page, url: str, path: Path) -> None:
    page.goto(f"{url}?exp=synaptic&stimulus.0.rate_hz=30")
    page.wait_for_function("window.lifsim && window.lifsim.drawn > 0", timeout=300_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(path))


if __name__ == "__main__":
    sys.exit(main())
