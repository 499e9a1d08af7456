// The axon dashboard page: follows /events (a `hello` with the whole view, then only
// what changed) and draws the graph with cytoscape and a dagre layout.
"use strict";

// A script error shows in the status badge rather than silently stopping the page.
window.addEventListener("error", (e) => {
  const status = document.getElementById("status");
  status.textContent = `page error: ${e.message}`;
  status.className = "status lost";
  document.body.dataset.error = `${e.message} at ${e.filename}:${e.lineno}:${e.colno}`;
});

const nodes = new Map(); // key -> node view from the server
const edges = new Map();
let page = null;
let selected = null;
let relayoutDue = false;

cytoscape.use(cytoscapeDagre);

// Labels are drawn at 12 px and never shown below READABLE zoom unless asked ("fit
// all"): a graph too big for the pane at that zoom is shown in part, to be panned.
const FONT = 12;
const READABLE = 0.75;
const cy = cytoscape({
  container: document.getElementById("graph"),
  wheelSensitivity: 0.3,
  minZoom: 0.05,
  maxZoom: 1.6,
  style: [
    { selector: "node", style: {
      "shape": "round-rectangle", "label": "data(label)", "text-wrap": "wrap",
      "text-valign": "center", "font-size": FONT, "line-height": 1.25,
      "font-family": "ui-monospace, monospace", "color": "#1d2330",
      "width": "data(w)", "height": "data(h)",
      "background-color": "#e8f0fe", "border-width": 1, "border-color": "#5c7cba" } },
    { selector: "node[kind = 'group']", style: { "background-color": "#fff4d6", "border-color": "#c99a2e", "border-style": "double", "border-width": 3 } },
    { selector: "node[kind = 'collapsed']", style: { "background-color": "#e0e0e0", "border-style": "dashed" } },
    { selector: "node[?prepared]", style: { "opacity": 0.6 } },
    { selector: "node[?dropping]", style: { "border-color": "#c62828", "border-width": 2 } },
    { selector: "node[?restarted]", style: { "background-color": "#fde0dc" } },
    { selector: ":parent", style: {
      // The label inside the frame's top band, so it cannot cover a box outside it.
      "text-valign": "top", "text-halign": "center", "background-color": "#f4f6fa", "font-size": FONT,
      "font-weight": "bold", "text-margin-y": 19, "color": "#3a4660",
      "background-opacity": 0.7, "border-color": "#8a9bc2", "padding": "22px" } },
    { selector: "node:selected", style: { "border-color": "#ff6f00", "border-width": 3 } },
    { selector: "edge", style: {
      "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle",
      "line-color": "#9aa3b3", "target-arrow-color": "#9aa3b3", "arrow-scale": 0.9,
      "label": "data(label)", "font-size": 10, "text-rotation": "autorotate",
      "color": "#556", "text-background-color": "#fff", "text-background-opacity": 0.85 } },
    { selector: "edge:selected", style: { "line-color": "#ff6f00", "target-arrow-color": "#ff6f00" } },
    // A link from a box up to its own composite's boundary loops out of the frame and back
    // in: its label sits by the box it leaves, level, so two such loops do not overlap.
    { selector: "edge[?up]", style: {
      "label": "", "source-label": "data(label)", "source-text-offset": 46, "text-rotation": "none", "z-compound-depth": "top" } },
  ],
});

function fmt(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n * 10) / 10);
}

function totals(n) {
  let rate = 0, dropped = 0, received = 0, sent = 0, depth = 0, cap = 0;
  for (const b of n.boxes) {
    if (b.dir === "in") { received += b.received; depth += b.depth; cap += b.capacity || 0; rate += b.rate; }
    else { sent += b.sent; }
    dropped += b.dropped;
  }
  return { rate, dropped, received, sent, depth, cap };
}

// A published counter's name as drawn: without `_total` and the prefix all share.
function shortName(name, counters) {
  const first = counters[0][0];
  const cut = first.indexOf("_") + 1;
  const prefix = cut > 0 && counters.every(([k]) => k.startsWith(first.slice(0, cut))) ? cut : 0;
  return name.slice(prefix).replace(/_total$/, "");
}

// A long name broken before its parenthesis, so that boxes stay narrow:
// `Backplane(cosmici.node1.uart.up)#33` is drawn on two lines.
function wrapName(name) {
  const cut = name.indexOf("(");
  return name.length > 24 && cut > 0 ? [name.slice(0, cut), name.slice(cut)] : [name];
}

function label(n) {
  const t = totals(n);
  const load = `in ${t.depth}/${t.cap} · ${fmt(t.rate)} msg/s`;
  // A composite's (or an expanded group's) label is one short line in its frame's
  // top band (its counters are in its details and the table).
  if (n.kind === "composite") return `${n.label} · ${n.state} · ${fmt(t.rate)} msg/s`;
  if (n.kind === "group" && n.expanded) return `${n.label} ×${n.members} · ${fmt(t.rate)} msg/s`;
  const name = n.kind === "group" ? `${n.label} ×${n.members}` : n.label;
  const lines = wrapName(name);
  lines.push(`${n.state}` + (n.restarts ? ` · restarts ${n.restarts}` : ""), load);
  if (t.dropped) lines.push(`dropped ${fmt(t.dropped)}`);
  const counters = n.counters.map(([k, v]) => `${shortName(k, n.counters)} ${fmt(v)}`);
  // Published counters two to a line.
  for (let i = 0; i < counters.length; i += 2) lines.push(counters.slice(i, i + 2).join(" · "));
  if (n.kind === "collapsed") lines.push(`(${n.members - 1} inside)`);
  return lines.join("\n");
}

// A box's size from its label (12 px monospace: about 7.3 px a character, 15 a line).
function nodeData(n) {
  const t = totals(n);
  const text = label(n);
  const lines = text.split("\n");
  return {
    id: n.key, label: text, kind: n.kind,
    w: Math.max(...lines.map((l) => l.length)) * 7.3 + 18, h: lines.length * 15 + 12,
    prepared: n.state === "prepared", dropping: t.dropped > 0, restarted: n.restarts > 0,
  };
}

function apply(delta) {
  for (const key of delta.removed_edges) { edges.delete(key); cy.getElementById(key).remove(); relayoutDue = true; }
  for (const key of delta.removed_nodes) { nodes.delete(key); cy.getElementById(key).remove(); relayoutDue = true; }
  for (const n of delta.nodes) nodes.set(n.key, n);
  // Nodes are added with their parent (a node whose parent changed is added anew),
  // parents first; edges of a node added anew are restored below.
  let pending = [];
  for (const n of delta.nodes) {
    const el = cy.getElementById(n.key);
    const want = n.parent && nodes.has(n.parent) ? n.parent : undefined;
    if (el.nonempty() && (el.data("parent") || undefined) === want) {
      el.data(nodeData(n));
    } else {
      if (el.nonempty()) el.remove();
      pending.push(n);
      relayoutDue = true;
    }
  }
  for (let pass = 0; pending.length && pass < 64; pass++) {
    const later = [];
    for (const n of pending) {
      const want = n.parent && nodes.has(n.parent) ? n.parent : undefined;
      if (want && cy.getElementById(want).empty() && pass < 63) { later.push(n); continue; }
      cy.add({ group: "nodes", data: { ...nodeData(n), parent: want } });
    }
    pending = later;
  }
  for (const e of delta.edges) edges.set(e.key, e);
  for (const e of edges.values()) {
    const text = e.count > 1 ? `${e.label} ×${e.count}` : e.label;
    const el = cy.getElementById(e.key);
    if (el.nonempty()) { if (el.data("label") !== text) el.data("label", text); continue; }
    if (cy.getElementById(e.from).empty() || cy.getElementById(e.to).empty()) continue;
    const up = cy.getElementById(e.from).ancestors().contains(cy.getElementById(e.to));
    cy.add({ group: "edges", data: { id: e.key, source: e.from, target: e.to, label: text, up } });
    relayoutDue = true;
  }
  if (delta.recordings) { recordings = delta.recordings; renderRecordings(); }
  if (relayoutDue) scheduleLayout();
  renderTable();
  renderDetails();
  renderForms();
  document.getElementById("summary").textContent =
    `${nodes.size} boxes drawn, ${[...nodes.values()].reduce((s, n) => s + n.members, 0)} components`;
}

// Layout only when the shape changed, at most every 200 ms; `data-pending` on the
// graph says whether a layout is still to come (tests wait for it before a screenshot).
const graphEl = document.getElementById("graph");
let layoutTimer = null;
function scheduleLayout() {
  graphEl.dataset.pending = "1";
  if (layoutTimer) return;
  layoutTimer = setTimeout(() => {
    layoutTimer = null;
    relayoutDue = false;
    // Ranks far enough apart for a link's box names (`outbox → inbox`) to fit between.
    cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 14, rankSep: 96, edgeSep: 8, animate: false, fit: false }).run();
    if (!userMoved) showGraph(viewMode);
    graphEl.dataset.pending = "0";
  }, 200);
}

// The view: "readable" fits the graph but never below READABLE zoom (a bigger graph is
// shown from its start, the left, where its inputs are); "all" fits everything. Once
// the user pans or zooms, new layouts keep the user's view until a button is pressed.
let viewMode = "readable";
let userMoved = false;
const PAD = 24;
function showGraph(mode) {
  viewMode = mode;
  const els = cy.elements();
  if (els.empty()) return;
  cy.fit(els, PAD);
  if (mode === "readable" && cy.zoom() < READABLE) {
    const bb = els.boundingBox();
    const h = cy.height();
    cy.zoom(READABLE);
    const top = bb.h * READABLE + 2 * PAD <= h ? (h - bb.h * READABLE) / 2 : PAD;
    cy.pan({ x: PAD - bb.x1 * READABLE, y: top - bb.y1 * READABLE });
  }
  noteZoom();
}

function noteZoom() {
  const z = cy.zoom();
  const bb = cy.elements().renderedBoundingBox();
  const partly = bb.x1 < -1 || bb.y1 < -1 || bb.x2 > cy.width() + 1 || bb.y2 > cy.height() + 1;
  document.getElementById("zoom-note").textContent = `zoom ${Math.round(z * 100)}%` +
    (partly ? " · part of the graph shown: drag to pan, or fit all" : "") +
    (z < READABLE ? " · too small to read: readable size" : "");
}

cy.on("dragpan scrollzoom pinchzoom", () => { userMoved = true; });
// Box names on links only where they can be read (10 px at zoom 0.9 and above).
let linkNames = null;
cy.on("viewport", () => {
  const show = cy.zoom() >= 0.9;
  if (show !== linkNames) { linkNames = show; cy.style().selector("edge").style("text-opacity", show ? 1 : 0).update(); }
  noteZoom();
});
document.getElementById("fit-all").addEventListener("click", () => { userMoved = false; showGraph("all"); });
document.getElementById("fit-readable").addEventListener("click", () => { userMoved = false; showGraph("readable"); });
// The pane changes size when the terminal opens or closes, or the window is resized.
let paneSize = "";
new ResizeObserver(() => {
  const size = `${graphEl.clientWidth}x${graphEl.clientHeight}`;
  if (size === paneSize) return;
  paneSize = size;
  cy.resize();
  if (!userMoved) showGraph(viewMode); else noteZoom();
}).observe(graphEl);

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderTable() {
  const body = document.querySelector("#component-table tbody");
  const rows = [];
  for (const n of [...nodes.values()].sort((a, b) => a.key.localeCompare(b.key, "en", { numeric: true }))) {
    const t = totals(n);
    const tr = document.createElement("tr");
    tr.dataset.key = n.key;
    tr.append(
      cell(n.kind === "group" ? `${n.label} ×${n.members}` : n.label),
      cell(n.state + (n.restarts ? ` (${n.restarts} restarts)` : "")),
      cell(fmt(t.rate), "num"), cell(String(t.received), "num"),
      cell(String(t.sent), "num"), cell(String(t.dropped), t.dropped ? "num failed" : "num"));
    tr.addEventListener("click", () => select(n.key));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function renderDetails() {
  const box = document.getElementById("details");
  const edge = selectedEdge && edges.get(selectedEdge);
  if (edge) {
    const h = document.createElement("h2"); h.textContent = edge.label;
    const p = document.createElement("p");
    p.textContent = edge.link ? `link ${edge.link[0]} → ${edge.link[1]}` : `${edge.count} links`;
    box.replaceChildren(h, p);
    return;
  }
  const n = selected && nodes.get(selected);
  if (!n) { box.innerHTML = "<h2>Selected</h2><p class='muted'>nothing selected</p>"; return; }
  const h = document.createElement("h2");
  h.textContent = n.kind === "group" ? `${n.label} ×${n.members}` : n.label;
  const p = document.createElement("p");
  p.textContent = `${n.kind}, ${n.state}` + (n.restarts ? `, ${n.restarts} restarts, last: ${n.last_failure}` : "");
  const table = document.createElement("table");
  const head = document.createElement("tr");
  for (const t of ["box", "depth/cap", "bytes", "received", "sent", "dropped", "msg/s"]) {
    const th = document.createElement("th"); th.textContent = t; head.append(th);
  }
  table.append(head);
  for (const b of n.boxes) {
    const tr = document.createElement("tr");
    tr.append(cell(`${b.dir === "in" ? "▸" : "◂"} ${b.name}`),
      cell(b.capacity != null ? `${b.depth}/${b.capacity}` : (b.dir === "in" ? String(b.depth) : "")),
      cell(b.bytes != null ? fmt(b.bytes) : ""), cell(String(b.received), "num"),
      cell(String(b.sent), "num"), cell(String(b.dropped), "num"), cell(fmt(b.rate), "num"));
    table.append(tr);
  }
  for (const [k, v] of n.counters) {
    const tr = document.createElement("tr");
    tr.append(cell(k), cell(String(v), "num"));
    table.append(tr);
  }
  const parts = [h, p];
  const op = toggleOp(n);
  if (op) {
    const b = document.createElement("button");
    b.type = "button"; b.id = "toggle"; b.textContent = op;
    b.addEventListener("click", () => toggle(n));
    parts.push(b);
  }
  box.replaceChildren(...parts, table);
}

// What double-clicking `n` does: expand or fold a group, collapse or open a composite.
function toggleOp(n) {
  if (n.kind === "group") return n.expanded ? "fold" : "expand";
  if (n.kind === "composite") return "collapse";
  if (n.kind === "collapsed") return "open";
  return null;
}

function toggle(n) {
  const op = toggleOp(n);
  if (op && page != null) fetch(`/view?page=${page}&op=${op}&key=${encodeURIComponent(n.key)}`, { method: "POST" });
}

function select(key) {
  selected = key;
  selectedEdge = null;
  cy.$(":selected").unselect();
  cy.getElementById(key).select();
  renderDetails();
  renderForms();
}

// Link recording: the selected box's links (or the tapped edge) get a file name and
// a Record button; the recordings list shows each tapped link's counters and Stop;
// a box's inboxes get a Replay form. Files live in the server's recordings directory.
let recordings = [];
let selectedEdge = null;
let formsShown = "";

function defaultName(from) {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  return `${from.replace(/[^A-Za-z0-9_.-]+/g, "_")}-${stamp}.axrec`;
}

function say(text, failed) {
  const m = document.getElementById("record-msg");
  m.textContent = text;
  m.className = failed ? "failed" : "muted";
}

async function post(url, body) {
  try {
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const answer = await r.json().catch(() => ({ error: `status ${r.status}` }));
    if (!r.ok) { say(answer.error || `status ${r.status}`, true); return null; }
    return answer;
  } catch (e) { say(String(e), true); return null; }
}

async function startRecording(from, to, path) {
  const a = await post("/record/start", { from, to, path });
  if (a) say(`recording ${from} → ${to} into ${a.path}`);
}

async function stopRecording(from, to) {
  const a = await post("/record/stop", { from, to });
  if (a) say(`stopped: ${a.written} written, ${a.dropped} dropped in ${a.path}` + (a.error ? ` (${a.error})` : ""), !!a.error);
}

// The links the forms offer, as [from, to]: the tapped edge, or the selected box's
// links out (not `signal`, which carries no messages). A link into or out of a
// recording's tap stands for the recorded link.
function linksShown() {
  const shown = selectedEdge ? [edges.get(selectedEdge)].filter(Boolean)
    : [...edges.values()].filter((e) => e.from === selected);
  const tapId = (label) => { const m = /#(\d+)\.[^.]*$/.exec(label); return m ? Number(m[1]) : null; };
  const out = new Map();
  for (const e of shown) {
    if (!e.link || /\.signal$/.test(e.link[0])) continue;
    const r = recordings.find((r) => r.tap === tapId(e.link[1]) || r.tap === tapId(e.link[0]));
    const link = r ? [r.from, r.to] : e.link;
    out.set(link.join(" "), link);
  }
  return [...out.values()];
}

function isRecording(from, to) {
  return recordings.some((r) => r.from === from && r.to === to && r.recording);
}

function renderForms() {
  const root = document.getElementById("record-forms");
  const n = selected && nodes.get(selected);
  const links = linksShown();
  const inboxes = n && !selectedEdge && (n.kind === "component" || n.kind === "composite")
    ? n.boxes.filter((b) => b.dir === "in" && b.name !== "control").map((b) => `${n.label}.${b.name}`) : [];
  // Redrawn only when what it offers changed, so typing is not lost.
  const shown = JSON.stringify([selected, selectedEdge, links.map(([f, t]) => [f, t, isRecording(f, t)]), inboxes]);
  if (shown === formsShown) return;
  formsShown = shown;
  const parts = [];
  if (links.length) {
    const h = document.createElement("h2"); h.textContent = "Record a link"; parts.push(h);
    for (const [from, to] of links) {
      const f = document.createElement("form");
      f.className = "record-link"; f.dataset.from = from; f.dataset.to = to;
      const l = document.createElement("div"); l.textContent = `${from} → ${to}`;
      if (isRecording(from, to)) {
        const note = document.createElement("span"); note.className = "muted"; note.textContent = "recording (see Recordings)";
        f.append(l, note);
        parts.push(f);
        continue;
      }
      const path = document.createElement("input");
      path.className = "record-path"; path.value = defaultName(from); path.title = "file in the recordings directory";
      const b = document.createElement("button"); b.type = "submit"; b.className = "record-start"; b.textContent = "Record";
      f.append(l, path, b);
      f.addEventListener("submit", (ev) => { ev.preventDefault(); startRecording(from, to, path.value); });
      parts.push(f);
    }
  }
  if (inboxes.length) {
    const h = document.createElement("h2"); h.textContent = "Replay into"; parts.push(h);
    const f = document.createElement("form"); f.id = "replay-form";
    const to = document.createElement("select"); to.className = "replay-to";
    for (const name of inboxes) { const o = document.createElement("option"); o.value = o.textContent = name; to.append(o); }
    const path = document.createElement("input"); path.placeholder = "recording file"; path.className = "record-path";
    const pace = document.createElement("select"); pace.className = "replay-pace";
    for (const p of ["recorded", "max"]) { const o = document.createElement("option"); o.value = o.textContent = p; pace.append(o); }
    const b = document.createElement("button"); b.type = "submit"; b.textContent = "Replay";
    f.append(to, path, pace, b);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const a = await post("/replay", { path: path.value, to: to.value, pace: pace.value });
      if (a) say(`replaying ${a.path} into ${a.to}`);
    });
    parts.push(f);
  }
  root.replaceChildren(...parts);
}

function renderRecordings() {
  const body = document.querySelector("#recording-table tbody");
  document.getElementById("recording-none").hidden = recordings.length > 0;
  body.replaceChildren(...recordings.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.from = r.from; tr.dataset.to = r.to;
    const file = r.path ? r.path.split(/[\\/]/).pop() : "";
    const state = cell(r.recording ? "recording" : "stopped");
    const written = cell(String(r.written), "num written");
    const dropped = cell(String(r.dropped), r.dropped ? "num dropped failed" : "num dropped");
    const action = document.createElement("td");
    if (r.recording) {
      const b = document.createElement("button"); b.type = "button"; b.className = "record-stop"; b.textContent = "Stop";
      b.addEventListener("click", () => stopRecording(r.from, r.to));
      action.append(b);
    }
    const link = cell(`${r.from} → ${r.to}`);
    const f = document.createElement("div");
    f.className = r.error ? "file failed" : "file muted"; f.textContent = file;
    f.title = r.error || r.path || "";
    link.append(f);
    tr.append(link, state, written, dropped, action);
    return tr;
  }));
}

cy.on("tap", "edge", (e) => {
  selected = null;
  selectedEdge = e.target.id();
  renderDetails();
  renderForms();
});
cy.on("tap", "node", (e) => select(e.target.id()));
cy.on("dbltap", "node", (e) => {
  const n = nodes.get(e.target.id());
  if (n) toggle(n);
});

// Panels a program adds (e.g. the sensornet's nodes, rates, pulse and sky map).
const panels = new Map();
function renderPanels(list) {
  for (const [name, p] of list) panels.set(name, p);
  const root = document.getElementById("panels");
  const parts = [];
  for (const [name, p] of panels) {
    const sec = document.createElement("section");
    sec.className = "panel";
    sec.dataset.panel = name;
    const h = document.createElement("h2"); h.textContent = name; sec.append(h);
    if (p.kind === "table") {
      const t = document.createElement("table");
      const hr = document.createElement("tr");
      for (const c of p.columns) { const th = document.createElement("th"); th.textContent = c; hr.append(th); }
      t.append(hr);
      for (const r of p.rows) { const tr = document.createElement("tr"); for (const c of r) tr.append(cell(c)); t.append(tr); }
      sec.append(t);
    } else if (p.kind === "values") {
      const t = document.createElement("table");
      for (const [k, v] of p.values) { const tr = document.createElement("tr"); tr.append(cell(k), cell(v, "num")); t.append(tr); }
      sec.append(t);
    } else if (p.kind === "points") {
      sec.append(plot(p));
    }
    parts.push(sec);
  }
  root.replaceChildren(...parts);
}

function plot(p) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const W = 400, H = 170, M = 28;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const xs = p.points.map((q) => q[0]), ys = p.points.map((q) => q[1]);
  const x0 = Math.min(...xs, 0), x1 = Math.max(...xs, 1), y0 = Math.min(...ys, 0), y1 = Math.max(...ys, 1);
  const X = (x) => M + (x - x0) / (x1 - x0 || 1) * (W - M - 6);
  const Y = (y) => H - M + 6 - (y - y0) / (y1 - y0 || 1) * (H - M - 6);
  const text = (x, y, s, anchor) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", 9);
    t.setAttribute("text-anchor", anchor || "start"); t.textContent = s; svg.append(t);
  };
  const axes = document.createElementNS(ns, "path");
  axes.setAttribute("d", `M${M},6 V${H - M + 6} H${W - 6}`);
  axes.setAttribute("stroke", "#889"); axes.setAttribute("fill", "none"); svg.append(axes);
  text(W - 6, H - 4, `${p.x} ${fmt(x0)}…${fmt(x1)}`, "end");
  text(2, 12, `${p.y} ${fmt(y0)}…${fmt(y1)}`);
  if (p.line && p.points.length > 1) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", p.points.map((q, i) => `${i ? "L" : "M"}${X(q[0]).toFixed(1)},${Y(q[1]).toFixed(1)}`).join(" "));
    path.setAttribute("stroke", "#1565c0"); path.setAttribute("fill", "none"); svg.append(path);
  } else {
    for (const q of p.points) {
      const c = document.createElementNS(ns, "circle");
      c.setAttribute("cx", X(q[0])); c.setAttribute("cy", Y(q[1])); c.setAttribute("r", 2.5);
      c.setAttribute("fill", "#1565c0"); c.setAttribute("fill-opacity", 0.6); svg.append(c);
    }
  }
  return svg;
}

// Operator terminals: one open at a time, each its own session on the server.
let terminal = null;
let terminalNames = "";
function renderTerminals(names) {
  const list = document.getElementById("terminal-list");
  // Redrawn only when the list changed, so a button is not replaced under the pointer.
  if (!names.length || names.join("\n") === terminalNames) return;
  terminalNames = names.join("\n");
  list.className = "";
  list.replaceChildren(...names.map((name) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "terminal-link"; b.textContent = name;
    b.addEventListener("click", () => openTerminal(name));
    return b;
  }));
}

function openTerminal(name) {
  closeTerminal();
  const out = document.getElementById("terminal-output");
  out.textContent = "";
  document.getElementById("terminal-title").textContent = name;
  document.getElementById("terminal").hidden = false;
  const source = new EventSource(`/terminal/stream?name=${encodeURIComponent(name)}`);
  terminal = { name, source, session: null, pending: [], flush: null, kept: 0 };
  source.addEventListener("session", (e) => { terminal.session = e.data; document.getElementById("terminal").dataset.session = e.data; });
  source.addEventListener("data", (e) => {
    terminal.pending.push(JSON.parse(e.data));
    if (!terminal.flush) terminal.flush = setTimeout(() => flushTerminal(out), 100);
  });
  document.getElementById("terminal-input").focus();
}

// What arrived in the last 100 ms is added as one piece, and the oldest pieces go
// beyond TERMINAL_KEEP characters: a node sending hundreds of lines a second costs
// ten small updates a second, not one redraw of the whole scrollback per line.
const TERMINAL_KEEP = 100000;
function flushTerminal(out) {
  if (!terminal) return;
  terminal.flush = null;
  let text = terminal.pending.join("");
  terminal.pending = [];
  if (text.length > TERMINAL_KEEP) text = text.slice(-TERMINAL_KEEP);
  const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
  out.append(document.createTextNode(text));
  terminal.kept += text.length;
  while (terminal.kept > TERMINAL_KEEP && out.firstChild) {
    terminal.kept -= out.firstChild.textContent.length;
    out.firstChild.remove();
  }
  if (atEnd) out.scrollTop = out.scrollHeight;
}

function closeTerminal() {
  if (terminal) { terminal.source.close(); clearTimeout(terminal.flush); }
  terminal = null;
  document.getElementById("terminal").hidden = true;
  delete document.getElementById("terminal").dataset.session;
}

document.getElementById("terminal-close").addEventListener("click", closeTerminal);
document.getElementById("terminal-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("terminal-input");
  if (!terminal || terminal.session == null) return;
  const line = input.value;
  input.value = "";
  fetch(`/terminal/send?session=${terminal.session}`, { method: "POST", body: line })
    .then((r) => { if (!r.ok && terminal) { terminal.pending.push(`\n[not sent: ${r.status}]\n`); flushTerminal(document.getElementById("terminal-output")); } });
});

function news(n) {
  const list = document.getElementById("news-list");
  for (const line of n.lines) {
    const li = document.createElement("li");
    li.textContent = line;
    if (/failed|panicked/.test(line)) li.className = "failed";
    list.prepend(li);
  }
  if (n.more) { const li = document.createElement("li"); li.textContent = `… and ${n.more} more`; list.prepend(li); }
  while (list.children.length > 200) list.lastChild.remove();
}

function connect() {
  const status = document.getElementById("status");
  const events = new EventSource("/events");
  events.addEventListener("hello", (e) => {
    const h = JSON.parse(e.data);
    page = h.page;
    nodes.clear(); edges.clear(); cy.elements().remove();
    apply(h.view);
    renderPanels(h.panels);
    renderTerminals(h.terminals);
    status.textContent = "live"; status.className = "status live";
  });
  events.addEventListener("delta", (e) => apply(JSON.parse(e.data)));
  events.addEventListener("panels", (e) => {
    const u = JSON.parse(e.data);
    renderPanels(u.panels);
    renderTerminals(u.terminals);
  });
  events.addEventListener("news", (e) => news(JSON.parse(e.data)));
  events.onerror = () => { status.textContent = "reconnecting…"; status.className = "status lost"; };
}
connect();
