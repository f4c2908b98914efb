"""lifsim explore in a real browser: headless Chromium from the system's packages, driven by
Playwright (never a downloaded browser). The page is moved as a person moves it (keys on
sliders, typing, clicks), and what it draws is compared with what ``lifsim run`` writes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lifsim
from lifsim.cli import main
from lifsim.io.experiment_file import render

pytest.importorskip("starlette")
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs the system's chromium (apt-get install chromium)")

#: Seconds to wait for a figure: the first run on the numba engine compiles its kernels.
FIRST_DRAW_MS = 240_000
#: The spikes the u panel draws (its series 'spikes', x where it has a value).
DRAWN_SPIKES = """() => { const u = window.lifsim.plots.u;
  const i = u.series.findIndex((s) => s.label === "spikes");
  return u.data[0].filter((x, k) => u.data[i][k] != null); }"""


@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, PYTHONPATH=str(Path(lifsim.__file__).resolve().parents[1]))
    process = subprocess.Popen([sys.executable, "-m", "lifsim", "explore", "--port", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("lifsim explore: serving on http://127.0.0.1:"), line + process.stderr.read()
    yield line.split()[4]
    process.terminate()
    process.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.base = server
    yield page
    context.close()
    assert not errors, errors


def open_page(page, query: str):
    page.goto(f"{page.base}?{query}")
    page.wait_for_function("window.lifsim && window.lifsim.drawn > 0", timeout=FIRST_DRAW_MS)
    settled(page)


def settled(page):
    """Wait until the page has no run in flight or waiting, and has drawn its answer."""
    page.wait_for_function("window.lifsim.inFlight === null && window.lifsim.queued === null",
                           timeout=FIRST_DRAW_MS)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def slider(page, key):
    return page.locator(f'.control[data-key="{key}"] input[type=range]')


def box(page, key):
    return page.locator(f'.control[data-key="{key}"] input.value')


def run_cli(tmp_path, *args) -> dict:
    """``lifsim run ARGS``'s JSON."""
    out = tmp_path / "cli-out"
    assert main(["run", *args, "--out", str(out), "--quiet"]) == 0
    [written] = [p for p in out.glob("*.json") if not p.name.endswith(".timings.json")]
    return json.loads(written.read_text())


def test_moving_sliders_draws_the_spikes_lifsim_run_gives(page, tmp_path):
    open_page(page, "exp=synaptic")
    before = page.evaluate(DRAWN_SPIKES)
    for _ in range(3):
        slider(page, "seed").press("ArrowRight")
    slider(page, "stimulus.0.rate_hz").press("ArrowRight")  # 20 Hz and one step of 0.2
    settled(page)
    assert page.evaluate("window.lifsim.accepted") == {"seed": 2021, "stimulus.0.rate_hz": 20.2}
    assert "seed=2021" in page.url and box(page, "seed").input_value() == "2021"
    drawn = page.evaluate(DRAWN_SPIKES)
    inputs = page.evaluate("window.lifsim.plots.input_spikes.lifsim.groups[0]")
    (tmp_path / "synaptic.toml").write_text(render(
        lifsim.load_experiment("synaptic")).replace("rate_hz = 20.0", "rate_hz = 20.2"))
    ran = run_cli(tmp_path, str(tmp_path / "synaptic.toml"), "--seed", "2021")
    assert drawn == ran["spikes"]["times_ms"] and drawn != before
    assert inputs["x"] == ran["input_spikes"]["times_ms"]
    assert inputs["y"] == [n * 25 + s for n, s in zip(ran["input_spikes"]["neuron"], ran["input_spikes"]["synapse"])]


def test_changes_made_while_runs_are_in_flight_are_all_kept(page):
    open_page(page, "exp=synaptic")
    page.evaluate("""async () => {
      const step = (key) => { const s = document.querySelector(`.control[data-key="${key}"] input[type=range]`);
                              s.stepUp(); s.dispatchEvent(new Event("input", {bubbles: true})); };
      const first = window.lifsim.nextDrawing();
      step("seed"); step("seed"); step("seed");  // one sent, the newest waiting
      await first;                              // the first answered, the waiting one sent
      step("stimulus.0.rate_hz");               // made while that one runs
    }""")
    settled(page)
    assert page.evaluate("window.lifsim.accepted") == {"seed": 2021, "stimulus.0.rate_hz": 20.2}


def test_the_state_in_the_url_is_the_run_shown(page, tmp_path):
    open_page(page, "exp=noise&seed=7&dt_ms=0.5&method=exact")
    assert box(page, "dt_ms").input_value() == "0.5"
    assert page.locator('.control[data-key="method"] select').input_value() == "exact"
    ran = run_cli(tmp_path, "noise", "--seed", "7", "--dt", "0.5", "--method", "exact")
    assert page.evaluate(DRAWN_SPIKES) == ran["spikes"]["times_ms"] and ran["spikes"]["times_ms"]
    assert page.locator("#summary").inner_text().startswith(f"noise: {len(ran['spikes']['times_ms'])} spikes")


def test_a_bad_value_is_refused_next_to_its_control(page):
    open_page(page, "exp=square")
    shown = page.evaluate(DRAWN_SPIKES)
    box(page, "model.tau_m").fill("-1")
    box(page, "model.tau_m").press("Enter")
    settled(page)
    error = page.locator('.control[data-key="model.tau_m"] .error')
    assert error.inner_text() == "model.tau_m must be > 0 ms (got -1)"
    assert page.evaluate(DRAWN_SPIKES) == shown and "tau_m" not in page.url
    slider(page, "stimulus.0.pulses.2.2").press("ArrowRight")  # the page goes on from the last good state
    settled(page)
    assert page.evaluate("window.lifsim.accepted") == {"stimulus.0.pulses.2.2": 1.55}
    assert error.inner_text() == "model.tau_m must be > 0 ms (got -1)"
    box(page, "model.tau_m").fill("ten")
    box(page, "model.tau_m").press("Enter")
    settled(page)
    assert error.inner_text() == "model.tau_m must be a number (got 'ten')"
    box(page, "model.tau_m").fill("12")
    box(page, "model.tau_m").press("Enter")
    settled(page)
    assert error.inner_text() == "" and "model.tau_m=12" in page.url


def test_a_bad_link_is_refused_and_the_page_still_draws(page):
    open_page(page, "exp=square&duration_ms=1e12")
    settled(page)
    assert page.locator("#error").inner_text() == "steps (duration/dt) must be at most 200,000 in the explorer " \
                                                  "(got 1,000,000,000,000)"
    assert len(page.evaluate(DRAWN_SPIKES)) == 6  # the experiment as it comes


def test_the_downloaded_toml_reruns_to_the_spikes_drawn(page, tmp_path, capsys):
    open_page(page, "exp=square")
    for _ in range(5):
        slider(page, "model.tau_m").press("ArrowLeft")
    settled(page)
    assert page.evaluate("window.lifsim.accepted") == {"model.tau_m": 9.5}  # five steps of 0.1 ms
    drawn = page.evaluate(DRAWN_SPIKES)
    files = {}
    for kind in ("toml", "json", "npz"):
        with page.expect_download() as download:
            page.click(f"#download-{kind}")
        files[kind] = tmp_path / download.value.suggested_filename
        download.value.save_as(files[kind])
    assert files["toml"].name == "square.toml" and "tau_m = 9.5" in files["toml"].read_text()
    ran = run_cli(tmp_path, str(files["toml"]))
    article = lifsim.simulate(lifsim.load_experiment("square").config).spike_times_ms.tolist()
    assert ran["spikes"]["times_ms"] == drawn and drawn != article
    assert files["json"].read_bytes() == (tmp_path / "cli-out" / "square.json").read_bytes()
    assert files["npz"].read_bytes() == (tmp_path / "cli-out" / "square.npz").read_bytes()


def test_the_fi_curve_and_a_network_are_drawn_as_lifsim_run_computes_them(page, tmp_path, capsys):
    open_page(page, "exp=fi&stimulus.0.amplitude.stop=2")
    measured = page.evaluate("window.lifsim.plots.fi.lifsim.measured.map((m) => m.y)")
    ran = run_cli(tmp_path, "fi", "--currents", "0:2:0.05")
    assert measured == [ran["fi"]["rates_hz"][m] for m in ("article", "exact")]
    page.select_option("#experiment", "cuba")
    page.wait_for_function("window.lifsim.plots.raster !== undefined", timeout=FIRST_DRAW_MS)
    settled(page)
    main(["run", "cuba", "--neurons", "1000", "--duration", "500", "--out", str(tmp_path / "cuba")])
    printed = capsys.readouterr().out.splitlines()[:-1]  # without the files written
    assert page.locator("#summary").inner_text().splitlines() == printed
    assert page.locator(".panel").evaluate_all("(ps) => ps.map((p) => p.dataset.panel)") == [
        "raster", "rate", "u", "cv"]


def test_the_latency_benchmark_runs(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/explore.py", "--changes", "2", "--experiments", "square,fi",
                           "--screenshot", str(tmp_path / "page.png")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1],
                          env=dict(os.environ, PYTHONPATH=str(Path(lifsim.__file__).resolve().parents[1])))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| square |", "| fi |"))]
    assert len(rows) == 2 and "`model.tau_m`" in rows[1]
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
