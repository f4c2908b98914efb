// lifsim explore: controls, the page's state in its URL, live runs over a WebSocket, and
// the figures drawn with uPlot as lifsim's PNG files draw them.
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const POPULATION_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
const RED = "#d62728";

// Everything the page holds; window.lifsim lets tests and the benchmark read it.
const app = {
  experiments: {},   // name -> {label, description, controls}
  name: null,        // the experiment shown
  accepted: {},      // settings the server ran last (key -> value)
  wanted: {},        // what the page asks for: accepted, and the changes made since
  queued: null,      // settings waiting for the run in flight to end
  inFlight: null,    // the message sent, waiting for its answer
  nextId: 1,
  plots: {},         // panel name -> uPlot
  last: null,        // the last answer drawn
  drawn: 0,          // answers drawn so far
  waiters: [],       // resolved after the next drawing
  socket: null,
};
window.lifsim = app;

const $ = (id) => document.getElementById(id);

async function start() {
  const list = await (await fetch("/api/experiments")).json();
  const select = $("experiment");
  for (const e of list) {
    app.experiments[e.name] = e;
    select.append(new Option(e.label, e.name));
  }
  const query = new URLSearchParams(location.search);
  const name = app.experiments[query.get("exp")] ? query.get("exp") : list[0].name;
  const settings = {};
  for (const [key, value] of query) if (key !== "exp") settings[key] = value;
  select.value = name;
  select.addEventListener("change", () => choose(select.value, {}));
  await connect();
  choose(name, settings);
}

function connect() {
  return new Promise((resolve) => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    app.socket = new WebSocket(`${scheme}://${location.host}/ws`);
    app.socket.onopen = resolve;
    app.socket.onmessage = (event) => answered(JSON.parse(event.data));
    app.socket.onclose = () => status("the server closed the connection: reload the page");
  });
}

// ---------------------------------------------------------------- controls

function choose(name, settings) {
  app.name = name;
  $("error").hidden = true;
  app.accepted = {};
  app.wanted = {...settings};
  app.queued = null;
  for (const plot of Object.values(app.plots)) plot.destroy();
  app.plots = {};
  $("figures").replaceChildren();
  $("description").textContent = app.experiments[name].description;
  buildControls(app.experiments[name].controls);
  for (const [key, value] of Object.entries(settings)) showValue(key, value);
  request(settings, null);
}

function buildControls(controls) {
  const aside = $("controls");
  aside.replaceChildren();
  const groups = {};
  for (const c of controls) {
    if (!groups[c.group]) {
      const fieldset = document.createElement("fieldset");
      fieldset.append(Object.assign(document.createElement("legend"), {textContent: c.group}));
      aside.append(fieldset);
      groups[c.group] = fieldset;
    }
    groups[c.group].append(controlRow(c));
  }
}

function controlRow(c) {
  const row = document.createElement("div");
  row.className = "control";
  row.dataset.key = c.key;
  row.title = `${c.key}: ${c.help}`;
  const unit = c.unit ? ` (${c.unit})` : "";
  row.innerHTML = `<div class="name"><label></label><span class="valid"></span></div>
    <div class="inputs"></div><div class="error" role="alert"></div>`;
  row.querySelector("label").textContent = c.label + unit;
  row.querySelector(".valid").textContent = c.valid;
  const inputs = row.querySelector(".inputs");
  if (c.kind === "choice") {
    const select = document.createElement("select");
    select.className = "value";
    for (const [value, label] of c.choices) select.append(new Option(label, value));
    select.value = c.value;
    select.addEventListener("change", () => changed(c.key, select.value));
    inputs.append(select);
    return row;
  }
  const slider = Object.assign(document.createElement("input"),
    {type: "range", min: c.low, max: c.high, step: c.step, value: c.value});
  const box = Object.assign(document.createElement("input"),
    {type: "text", className: "value", value: c.value, inputMode: "decimal"});
  box.setAttribute("aria-label", c.label);
  slider.addEventListener("input", () => { box.value = slider.value; changed(c.key, Number(slider.value)); });
  box.addEventListener("change", () => { slider.value = box.value; changed(c.key, box.value); });
  inputs.append(slider, box);
  return row;
}

function row(key) { return document.querySelector(`.control[data-key="${CSS.escape(key)}"]`); }

function showValue(key, value) {
  const r = row(key);
  if (!r) return;
  for (const input of r.querySelectorAll("input, select")) input.value = value;
}

function refuse(key, message) {
  const r = key && row(key);
  if (!r) {
    $("error").textContent = message;
    $("error").hidden = false;
    return;
  }
  r.classList.add("refused");
  r.querySelector(".error").textContent = message;
}

// A control's refusal goes when a value of it is accepted; the page's own when the
// next change is made.
function clearRefusals(keys) {
  for (const key of keys) {
    const r = row(key);
    if (!r) continue;
    r.classList.remove("refused");
    r.querySelector(".error").textContent = "";
  }
}

// ---------------------------------------------------------------- runs

function changed(key, value) {
  $("error").hidden = true;
  app.wanted = {...app.wanted, [key]: value};
  request(app.wanted, key);
}

// One message in flight at a time; changes made meanwhile wait, the newest only.
function request(settings, key) {
  if (app.inFlight) {
    app.queued = {settings, key};
    return;
  }
  app.inFlight = {id: app.nextId++, experiment: app.name, settings, key, sent: performance.now()};
  status("running…");
  app.socket.send(JSON.stringify({id: app.inFlight.id, experiment: app.name, settings}));
}

function answered(answer) {
  const sent = app.inFlight;
  app.inFlight = null;
  if (sent && sent.experiment === app.name && answer.id === sent.id) {
    if (answer.ok) {
      clearRefusals(Object.keys(sent.settings));
      app.accepted = sent.settings;
      draw(answer);
      remember();
      status(`${Math.round(performance.now() - sent.sent)} ms`);
    } else {
      refuse(sent.key || keyNamedIn(answer.error, sent.settings), answer.error);
      status("refused");
      if (sent.key) {  // the page goes on from the last good value of that control
        app.wanted = withoutRefused(app.wanted, sent);
        if (app.queued) app.queued.settings = withoutRefused(app.queued.settings, sent);
      } else if (!app.last) {  // a bad link: the experiment as it comes
        app.wanted = {};
        if (!app.queued) request({}, null);
      }
      settle();
    }
  }
  if (app.queued) {
    const {settings, key} = app.queued;
    app.queued = null;
    request(settings, key);
  }
}

// Settings with a refused value put back to the accepted one (unless changed again since).
function withoutRefused(settings, sent) {
  const key = sent.key;
  if (settings[key] !== sent.settings[key]) return settings;
  const out = {...settings};
  if (key in app.accepted) out[key] = app.accepted[key]; else delete out[key];
  return out;
}

// The setting a refusal of several at once names (a link's), if it names one.
function keyNamedIn(message, settings) {
  return Object.keys(settings).find((k) => message.includes(k)) || null;
}

function remember() {
  const query = new URLSearchParams({exp: app.name});
  for (const [key, value] of Object.entries(app.accepted)) query.set(key, value);
  history.replaceState(null, "", `?${query}`);
  for (const kind of ["toml", "json", "npz"]) $(`download-${kind}`).href = `/download/${kind}?${query}`;
}

function status(text) { $("status").textContent = text; }

// ---------------------------------------------------------------- figures

function draw(answer) {
  app.last = answer;
  $("title").textContent = answer.title;
  $("summary").textContent = answer.summary.join("\n");
  $("warnings").textContent = answer.warnings.join("\n");
  const names = answer.panels.map((p) => p.panel);
  for (const [name, plot] of Object.entries(app.plots)) {
    if (!names.includes(name)) { plot.destroy(); delete app.plots[name]; }
  }
  for (const panel of answer.panels) drawPanel(panel, answer.duration_ms);
  const container = $("figures");
  for (const name of names) container.append(app.plots[name].root.parentNode);  // in the answer's order
  settle();
}

// Resolve the waiters once the figures are drawn on their canvases: uPlot draws in a
// microtask queued by setData, so one queued now runs after it.
function settle() {
  app.drawn += 1;
  const waiters = app.waiters;
  app.waiters = [];
  queueMicrotask(() => waiters.forEach((w) => w(app.drawn)));
}

app.nextDrawing = () => new Promise((resolve) => app.waiters.push(resolve));

function drawPanel(panel, duration) {
  const {options, data, signature} = BUILD[panel.kind](panel, duration);
  let plot = app.plots[panel.panel];
  if (plot && plot.signature === signature) {
    plot.lifsim = panel;
    if (panel.kind === "raster") plot.setScale("y", {min: options.scales.y.range[0], max: options.scales.y.range[1]});
    plot.setData(data);
    return;
  }
  if (plot) plot.destroy();
  const holder = document.createElement("div");
  holder.className = "panel";
  holder.dataset.panel = panel.panel;
  $("figures").append(holder);
  plot = new uPlot({width: plotWidth(), height: panel.kind === "fi" ? 380 : 200, ...options}, data, holder);
  plot.signature = signature;
  plot.lifsim = panel;
  app.plots[panel.panel] = plot;
}

function plotWidth() { return Math.max(400, $("figures").clientWidth - 10); }

window.addEventListener("resize", () => {
  for (const plot of Object.values(app.plots)) plot.setSize({width: plotWidth(), height: plot.height});
});

function axes(panel, xlabel) {
  return [{label: panel.xlabel || xlabel}, {label: panel.ylabel, size: 60}];
}

const timeScale = (duration) => ({time: false, range: [0, duration]});

const BUILD = {
  lines(panel, duration) {
    const series = [{label: "t (ms)"}];
    panel.series.forEach((s, i) => series.push({label: s.label, stroke: COLORS[i % COLORS.length], width: 1,
                                                spanGaps: true, points: {show: false}}));
    let table = [panel.x, ...panel.series.map((s) => s.y)];
    if (panel.spikes) {
      series.push({label: "u_thresh", stroke: RED, dash: [6, 4], width: 1, spanGaps: true, points: {show: false}});
      series.push({label: "spikes", stroke: RED, fill: RED, paths: () => null,
                   points: {show: true, size: 7, fill: RED, stroke: RED}});
      table = uPlot.join([table, [panel.spikes.x, panel.spikes.x.map(() => panel.spikes.y)]]);
      const x = table[0];
      table.splice(table.length - 1, 0, x.map(() => panel.threshold));  // the threshold, before the spikes
    }
    const options = {series, axes: axes(panel, "time (ms)"), scales: {x: timeScale(duration)}};
    return {options, data: table, signature: `lines:${series.length}`};
  },

  steps(panel, duration) {
    const series = [{label: panel.xlabel || "t (ms)"}];
    panel.series.forEach((s, i) => series.push({label: s.label, stroke: POPULATION_COLORS[i % 6], width: 1,
                                                paths: uPlot.paths.stepped({align: 1}), points: {show: false}}));
    const scales = {x: panel.xlabel ? {time: false} : timeScale(duration)};
    return {options: {series, axes: axes(panel, "time (ms)"), scales},
            data: [panel.x, ...panel.series.map((s) => s.y)], signature: `steps:${series.length}`};
  },

  // Spikes drawn as ticks by a hook (uPlot's aligned data holds one value per time, a
  // raster many); the series are there for the legend.
  raster(panel, duration) {
    const rows = panel.rows || Math.max(1, ...panel.groups.flatMap((g) => g.y.map((y) => y + 1)));
    const series = [{label: "t (ms)"}];
    panel.groups.forEach((g, i) => series.push({label: g.label, stroke: colorOf(panel, i), paths: () => null,
                                                 points: {show: false}}));
    const options = {series, axes: axes(panel, "time (ms)"), legend: {live: false},
                     scales: {x: timeScale(duration), y: {range: [-0.5, rows - 0.5]}},
                     hooks: {draw: [drawTicks]}};
    return {options, data: [[0, duration], ...panel.groups.map(() => [null, null])],
            signature: `raster:${series.length}`};
  },

  fi(panel) {
    const series = [{label: "I (mA)"}, {label: panel.closed_form.label, stroke: "#000", width: 1.2,
                                        spanGaps: true, points: {show: false}}];
    panel.measured.forEach((m, i) => series.push({label: m.label, stroke: COLORS[i], paths: () => null,
                                                  points: {show: true, size: 6, fill: "#fff", stroke: COLORS[i]}}));
    const data = uPlot.join([[panel.closed_form.x, panel.closed_form.y], [panel.x, ...panel.measured.map((m) => m.y)]]);
    return {options: {series, axes: axes(panel, "current I (mA)"), scales: {x: {time: false}}}, data,
            signature: `fi:${series.length}`};
  },
};

function colorOf(panel, i) { return panel.panel === "input_spikes" ? "#000" : POPULATION_COLORS[i % 6]; }

function drawTicks(u) {
  const panel = u.lifsim;
  const ctx = u.ctx;
  const {left, top, width, height} = u.bbox;
  const dense = panel.groups.reduce((n, g) => n + g.x.length, 0) > 20000 || (panel.rows || 0) > 100;
  const tall = dense ? 2 : Math.max(2, Math.min(10, 0.8 * height / Math.max(1, panel.rows || 25)));
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  panel.groups.forEach((g, i) => {
    ctx.fillStyle = colorOf(panel, i);
    for (let k = 0; k < g.x.length; k++) {
      const x = u.valToPos(g.x[k], "x", true);
      const y = u.valToPos(g.y[k], "y", true);
      ctx.fillRect(x - 0.75, y - tall / 2, dense ? 2 : 1.5, tall);
    }
  });
  ctx.restore();
}

start();
