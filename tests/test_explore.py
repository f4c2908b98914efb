"""lifsim explore without a browser: the controls, the checks and bounds of a request, the
WebSocket and the downloads, hostile input, and the command line."""

import json
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")
with warnings.catch_warnings():  # newer Starlettes prefer httpx2 to httpx; both serve here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

import lifsim  # noqa: E402
from lifsim.cli import main  # noqa: E402
from lifsim.explore import Limits, create_app  # noqa: E402
from lifsim.explore import runs  # noqa: E402
from lifsim.neuron.params import UNITS  # noqa: E402

ARTICLE = ("square", "noise", "synaptic")
WS = "ws://127.0.0.1:8050/ws"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), base_url="http://127.0.0.1:8050") as c:
        yield c


def keys(client, name):
    entry = next(e for e in client.get("/api/experiments").json() if e["name"] == name)
    return {c["key"]: c for c in entry["controls"]}


def ask(socket, experiment, settings=None, ident=1):
    socket.send_text(json.dumps({"id": ident, "experiment": experiment, "settings": settings or {}}))
    return socket.receive_json()


# ---------------------------------------------------------------- controls


def test_every_model_and_stimulus_parameter_has_a_control_with_unit_and_range(client):
    for name in ARTICLE:
        controls = keys(client, name)
        for field, unit in UNITS.items():
            assert controls[f"model.{field}"]["unit"] == unit and controls[f"model.{field}"]["valid"]
        for key in ("duration_ms", "dt_ms", "method", "engine", "seed"):
            assert key in controls
    assert {f"stimulus.0.pulses.{j}.{k}" for j in range(3) for k in range(3)} <= set(keys(client, "square"))
    noise = set(keys(client, "noise"))
    assert {"stimulus.0.mean", "stimulus.0.sd", "stimulus.0.start_ms", "stimulus.0.stop_ms"} <= noise
    synaptic = keys(client, "synaptic")
    assert synaptic["stimulus.0.rate_hz"]["unit"] == "Hz" and synaptic["stimulus.0.q"]["unit"] == "mA·ms"
    assert synaptic["stimulus.0.synapses"]["kind"] == "int" and synaptic["stimulus.0.synapses"]["value"] == 25
    fi = keys(client, "fi")
    assert fi["stimulus.0.amplitude.step"]["value"] == 0.05 and "neurons" not in fi
    assert fi["method"]["value"] == "" and [c[0] for c in fi["method"]["choices"]] == ["", "article", "exact"]
    assert keys(client, "cuba")["neurons"]["value"] == 1000


def test_sliders_span_their_value():
    for entry in runs.catalogue().values():
        for c in entry.controls:
            if c.kind != "choice":
                assert c.low <= c.value <= c.high and c.step > 0, (entry.name, c)


# ---------------------------------------------------------------- runs and downloads


def test_a_run_over_the_socket_draws_the_spikes_simulate_gives(client):
    with client.websocket_connect(WS) as socket:
        answer = ask(socket, "square", {"model.tau_m": 8.5, "stimulus.0.pulses.1.2": "1.3"})
    assert answer["ok"] and answer["id"] == 1
    assert [p["panel"] for p in answer["panels"]] == ["i_in", "u"]
    exp = lifsim.load_experiment("square")
    pulses = list(exp.config.stimuli[0].pulses)
    pulses[1] = (50.0, 100.0, 1.3)
    config = exp.config.replace(model=lifsim.LIFParams(tau_m=8.5),
                                stimuli=[lifsim.SquarePulses(pulses)])
    expected = lifsim.simulate(config)
    u = answer["panels"][1]
    assert u["spikes"]["x"] == expected.spike_times_ms.tolist() and len(u["spikes"]["x"]) > 6
    assert np.allclose(u["series"][0]["y"], expected.traces["u"][:, 0])
    assert answer["summary"][0].startswith(f"square: {expected.spike_times_ms.size} spikes")


def test_the_downloaded_toml_is_what_lifsim_show_prints(client, capsys):
    main(["show", "synaptic"])
    shown = capsys.readouterr().out
    assert client.get("/download/toml?exp=synaptic").text == shown


def test_downloads_rerun_by_lifsim_run_give_the_same_files(client, tmp_path, capsys):
    query = "exp=synaptic&seed=7&model.tau_m=7.5&stimulus.0.rate_hz=35&method=exact"
    (tmp_path / "synaptic.toml").write_text(client.get(f"/download/toml?{query}").text)
    assert main(["run", str(tmp_path / "synaptic.toml"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    written = tmp_path / "out" / "synaptic.json"
    assert client.get(f"/download/json?{query}").content == written.read_bytes()
    assert client.get(f"/download/npz?{query}").content == (tmp_path / "out" / "synaptic.npz").read_bytes()
    assert json.loads(written.read_text())["seed"] == 7


def test_several_methods_and_networks_run(client):
    with client.websocket_connect(WS) as socket:
        fi = ask(socket, "fi", {"stimulus.0.amplitude.stop": 2.0})
        network = ask(socket, "cuba", {"neurons": 200, "duration_ms": 100})
    assert fi["ok"] and len(fi["panels"][0]["x"]) == 40 and len(fi["panels"][0]["measured"]) == 2
    assert network["ok"] and [p["panel"] for p in network["panels"]] == ["raster", "rate", "u", "cv"]
    assert network["summary"][0].startswith("cuba: ") and " from 200 neuron(s) in 100 ms" in network["summary"][0]


# ---------------------------------------------------------------- refusals and bounds

REFUSED = [
    ({"model.tau_m": -1}, "model.tau_m must be > 0 ms (got -1)"),
    ({"model.tau_m": "abc"}, "model.tau_m must be a number (got 'abc')"),
    ({"model.tau_m": "nan"}, "model.tau_m must be a finite number (got nan)"),
    ({"model.tau_m": [1, 2]}, "model.tau_m must be a number"),
    ({"model.tau_m": None}, "model.tau_m must be a number"),
    ({"model.tau_m": True}, "model.tau_m must be a number"),
    ({"model.tau_m": {"uniform": [1, 2]}}, "model.tau_m must be a number"),
    ({"dt_ms": 20}, "dt must be in (0, 10] ms with method 'article'"),
    ({"duration_ms": 1e12}, "steps (duration/dt) must be at most 200,000 in the explorer"),
    ({"duration_ms": "inf"}, "duration must be a finite number"),
    ({"neurons": 10**12}, "neurons must be at most 10,000 in the explorer"),
    ({"neurons": 2.5}, "neurons must be a whole number"),
    ({"neurons": 0}, "neurons must be a whole number >= 1"),
    ({"seed": -1}, "seed must be a whole number >= 0 (got -1)"),
    ({"engine": "../numpy"}, "engine must be one of numpy, numba, tensorflow"),
    ({"method": 3}, "method must be one of article, exact"),
    ({"stimulus.0.synapses": 10**9}, "must be at most"),
    ({"stimulus.0.rate_hz": 1e9}, "rate·dt·1e-3 must be < 1"),
    ({"stimulus.0.start_ms": 200, "stimulus.0.stop_ms": 10}, "stimulus[0]"),
    ({"model.u_thresh": -1}, "model.u_thresh must be > model.u_rest"),
    ({"model.R": 1e300}, "model.R (at dt = 1 ms) gives a value beyond what float32 holds"),
    ({"stimulus.0.q": 3e38, "stimulus.0.weight_mean": 10}, "the run turned non-finite: i_in of neuron 0 is inf"),
    ({"../../etc/passwd": 1}, "../../etc/passwd is not a setting of synaptic"),
    ({"record.neurons": "all"}, "record.neurons is not a setting of synaptic"),
    ({"name": "x"}, "name is not a setting of synaptic"),
]


@pytest.mark.parametrize("settings, message", REFUSED)
def test_bad_values_are_refused_with_the_command_lines_message(client, settings, message):
    with client.websocket_connect(WS) as socket:
        answer = ask(socket, "synaptic", settings)
        assert not answer["ok"] and message in answer["error"], answer
        assert ask(socket, "synaptic", {"seed": 3}, ident=2)["ok"]  # the connection still answers


@pytest.mark.parametrize("message", [
    "not json", "[1, 2]", "null", '"text"', "NaN", "[" * 20000 + "]" * 20000, "x" * 100_000,
    json.dumps({"experiment": "/etc/passwd"}), json.dumps({"experiment": "../square"}),
    json.dumps({"experiment": ["square"]}), json.dumps({"experiment": "square", "settings": [1]}),
    json.dumps({"experiment": "square", "settings": "model.tau_m=3"}),
    '{"experiment": "square", "settings": {"model.tau_m": NaN}}',
    '{"experiment": "square", "settings": {"model.tau_m": Infinity}}',
    json.dumps({"id": "x" * 1000, "experiment": "fi", "settings": {"stimulus.0.amplitude.step": 1e-12}}),
])
def test_hostile_messages_get_an_error_and_the_socket_goes_on(client, message):
    with client.websocket_connect(WS) as socket:
        socket.send_text(message)
        answer = socket.receive_json()
        assert answer["ok"] is False and answer["error"] and answer["id"] is None
        socket.send_bytes(b"\x00\xff")
        assert socket.receive_json()["error"] == "a message must be JSON text"
        assert ask(socket, "square", ident=5)["id"] == 5


def test_bounds_come_from_the_limits():
    app = create_app(limits=Limits(neurons=50, steps=300, synapses=100))
    with TestClient(app, base_url="http://127.0.0.1") as c, c.websocket_connect(WS) as socket:
        assert "neurons must be at most 50 in the explorer (got 51)" in ask(socket, "noise", {"neurons": 51})["error"]
        assert "steps (duration/dt) must be at most 300" in ask(socket, "noise", {"duration_ms": 301})["error"]
        assert "synapses must be at most 100 in the explorer (got 125)" in ask(
            socket, "synaptic", {"neurons": 5})["error"]
        assert "neurons must be at most 50" in ask(socket, "cuba")["error"]
        assert ask(socket, "noise", {"neurons": 50, "duration_ms": 300})["ok"]


def test_memory_is_bounded_before_the_run():
    app = create_app(limits=Limits(memory_bytes=100_000))
    with TestClient(app, base_url="http://127.0.0.1") as c, c.websocket_connect(WS) as socket:
        answer = ask(socket, "noise", {"neurons": 1000})
    assert "memory: the run needs an estimated" in answer["error"]


def test_a_run_past_the_time_limit_is_reported_and_the_server_goes_on(monkeypatch):
    release = threading.Event()
    real_run = runs.run

    def held(exp, lock):
        release.wait(30)
        return real_run(exp, lock)

    monkeypatch.setattr("lifsim.explore.app.run", held)
    app = create_app(limits=Limits(seconds=0.2))
    with TestClient(app, base_url="http://127.0.0.1") as c, c.websocket_connect(WS) as socket:
        answer = ask(socket, "square")
        assert "the run took longer than 0.2 s, the explorer's limit" in answer["error"]
        release.set()
        assert ask(socket, "square", ident=2)["ok"]


def test_downloads_refuse_bad_values_and_name_no_file(client):
    bad = client.get("/download/toml?exp=square&model.tau_m=-1")
    assert bad.status_code == 400 and bad.text == "lifsim: error: model.tau_m must be > 0 ms (got -1)"
    for query in ("exp=/etc/passwd", "exp=../README.md", "exp=square&path=/etc/passwd"):
        answer = client.get(f"/download/toml?{query}")
        assert answer.status_code == 400 and answer.text.startswith("lifsim: error:"), query
    assert client.get("/download/exe?exp=square").status_code == 404
    assert client.get("/static/../runs.py").status_code == 404
    assert client.get("/static/uPlot.LICENSE").text.startswith("The MIT License")


def test_other_sites_and_host_names_are_refused(client):
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    with pytest.raises(Exception):
        with client.websocket_connect(WS, headers={"origin": "http://evil.example"}) as socket:
            socket.receive_text()
    with client.websocket_connect(WS, headers={"origin": "http://127.0.0.1:8050"}) as socket:
        assert ask(socket, "square")["ok"]


def test_a_file_given_on_the_command_line_is_offered_by_its_name(tmp_path):
    (tmp_path / "slow.toml").write_text('name = "slow"\nduration_ms = 50.0\n[model]\ntau_m = 30.0\n'
                                        '[[stimulus]]\nkind = "constant"\namplitude = 2.0\n')
    with TestClient(create_app([str(tmp_path / "slow.toml")]), base_url="http://127.0.0.1") as c:
        controls = keys(c, "slow")
        assert controls["model.tau_m"]["value"] == 30.0 and controls["stimulus.0.amplitude"]["unit"] == "mA"
        with c.websocket_connect(WS) as socket:
            assert ask(socket, "slow", {"stimulus.0.amplitude": 3})["summary"][0].startswith("slow: ")


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "lifsim: error: --port must be a whole number in [0, 65535] (got 70000)"),
    (["--port", "http"], "lifsim: error: argument --port: invalid int value: 'http'"),
    (["--host", "no such host.invalid"], "lifsim: error: --host/--port: cannot listen on no such host.invalid"),
    (["missing.toml"], "lifsim: error: experiment must be one of"),
])
def test_bad_command_lines_are_refused_in_one_line(args, message, capsys):
    try:
        status = main(["explore", *args])
    except SystemExit as stop:  # argparse's refusals
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2 and err.startswith(message) and err.count("\n") == 1


def test_a_port_in_use_is_refused(capsys):
    from lifsim.explore import bind

    taken = bind("127.0.0.1", 0)
    try:
        assert main(["explore", "--port", str(taken.getsockname()[1])]) == 2
    finally:
        taken.close()
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err


def test_the_server_prints_its_address_and_warns_off_loopback():
    process = subprocess.Popen([sys.executable, "-m", "lifsim", "explore", "--host", "0.0.0.0", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and "/static/uPlot.iife.min.js" in page.text
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert line.startswith("lifsim explore: serving on http://0.0.0.0:")
    assert err.startswith("lifsim: warning: listening on 0.0.0.0, not on this machine alone")
    assert process.returncode in (0, -15)


def test_ctrl_c_stops_the_server_with_status_0():
    # SIGINT restored to its default in the child: a shell's background job (a CI run) ignores it
    process = subprocess.Popen([sys.executable, "-m", "lifsim", "explore", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stdout.readline().startswith("lifsim explore: serving on http://127.0.0.1:")
        process.send_signal(signal.SIGINT)  # at once: the address is printed once Ctrl-C stops the server
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and err == "lifsim explore: stopped\n"
