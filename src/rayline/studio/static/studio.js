// rayline Studio: pan and zoom of the DAG, its groups (open one, expand all, collapse), the
// live view of an execution, the step panel, the executions list (live) and its compare
// checkboxes.
// Plain JavaScript, no dependencies; the server renders every page, this only updates it.
"use strict";

// Pan and zoom for any `.dag` container (or `[data-dag]`) holding `svg.dag-svg` with
// data-width/data-height and `[data-zoom]` buttons; other pages (lineage) rely on this hook.
function panZoom(container) {
  if (container.dataset.panZoom === "on") return;
  container.dataset.panZoom = "on";
  const svg = container.querySelector("svg.dag-svg") || container.querySelector("svg");
  if (!svg) return;
  const full = { w: parseFloat(svg.dataset.width), h: parseFloat(svg.dataset.height) };
  // As tall as the graph needs, within limits (CSSOM: allowed under the page's CSP).
  svg.style.height = `${Math.min(Math.max(full.h + 24, 160), 560)}px`;
  let box = { x: 0, y: 0, w: full.w, h: full.h };
  const apply = () => svg.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
  // Fit: the whole graph, never enlarged beyond its own size (a small graph stays readable).
  const fit = () => {
    const rect = svg.getBoundingClientRect();
    const scale = Math.max(full.w / rect.width, full.h / rect.height, 1);
    const w = rect.width * scale, h = rect.height * scale;
    box = { x: (full.w - w) / 2, y: (full.h - h) / 2, w, h };
    apply();
  };
  const zoom = (factor, cx, cy) => {
    const w = Math.min(Math.max(box.w * factor, 60), full.w * 8);
    const h = box.h * (w / box.w);
    box = { x: cx - (cx - box.x) * (w / box.w), y: cy - (cy - box.y) * (h / box.h), w, h };
    apply();
  };
  const point = (event) => {
    const rect = svg.getBoundingClientRect();
    // The viewBox is fitted inside the element (preserveAspectRatio meet): map through the scale.
    const scale = Math.max(box.w / rect.width, box.h / rect.height);
    const offX = (rect.width * scale - box.w) / 2, offY = (rect.height * scale - box.h) / 2;
    return { x: box.x - offX + (event.clientX - rect.left) * scale,
             y: box.y - offY + (event.clientY - rect.top) * scale, scale };
  };
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const p = point(event);
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest(".node")) return;
    drag = { x: event.clientX, y: event.clientY, box: { ...box }, scale: point(event).scale };
    svg.classList.add("dragging");
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    box = { ...drag.box, x: drag.box.x - (event.clientX - drag.x) * drag.scale,
            y: drag.box.y - (event.clientY - drag.y) * drag.scale };
    apply();
  });
  const end = () => { drag = null; svg.classList.remove("dragging"); };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  fit();
  container.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const kind = button.dataset.zoom;
      if (kind === "fit") { fit(); return; }
      zoom(kind === "in" ? 1 / 1.25 : 1.25, box.x + box.w / 2, box.y + box.h / 2);
    });
  });
}

// The DAG's groups: a group box opens on click (or Enter); "Expand all" and "Collapse" redraw
// it. The server lays the new graph out (the page itself, with ?expand=): the new `.dag`
// replaces the old one, and "dag:replaced" tells the live view to draw its state on it.
function dagGroups(container) {
  if (!container.hasAttribute("data-expand")) return;
  const open = (id) => {
    const current = container.dataset.expand;
    const ids = current === "none" ? [] : current.split(",");
    regroup(container, [...ids, id].join(","));
  };
  container.querySelectorAll(".node[data-group]").forEach((node) => {
    node.addEventListener("click", () => open(node.dataset.group));
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") open(node.dataset.group); });
  });
  container.querySelectorAll("[data-regroup]").forEach((button) => {
    button.addEventListener("click", () => regroup(container, button.dataset.regroup));
  });
}

async function regroup(container, expand) {
  const url = new URL(window.location.href);
  url.searchParams.set("expand", expand);
  const all = [...document.querySelectorAll(".dag[data-expand]")];
  const index = all.indexOf(container);
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.querySelectorAll(".dag[data-expand]")[index];
  if (!fresh || !container.isConnected) return;
  const node = document.importNode(fresh, true);
  container.replaceWith(node);
  window.history.replaceState(null, "", url);
  initDag(node);
  document.dispatchEvent(new CustomEvent("dag:replaced", { detail: node }));
}

function initDag(container) {
  panZoom(container);
  dagGroups(container);
}

const STATUS_ORDER = ["Succeeded", "Executing", "Starting", "Stopping", "Failed", "Stopped", "Pending"];
const STATUS_WORDS = { Succeeded: "ok", Executing: "run", Starting: "run", Failed: "fail",
                       Stopped: "stop", Stopping: "stop", Pending: "wait" };

// A group's live state from its steps': the counts per status (the meta line and the bar)
// and the status it is drawn with; as layout.group_summary computes it on the server.
function drawGroup(node, steps) {
  const members = node.dataset.members.split(" ");
  const counts = {};
  members.forEach((name) => {
    const status = steps[name] ? steps[name].status : "Pending";
    counts[status] = (counts[status] || 0) + 1;
  });
  const has = (...statuses) => statuses.some((s) => counts[s]);
  const kinds = Object.keys(counts);
  let status = "Partial";
  if (has("Failed")) status = "Failed";
  else if (has("Executing", "Starting", "Stopping")) status = "Executing";
  else if (has("Stopped")) status = "Stopped";
  else if (kinds.length === 1 && kinds[0] === "Succeeded") status = "Succeeded";
  else if (kinds.length === 1 && kinds[0] === "Pending") status = "Pending";
  node.setAttribute("class", `node group st-${status}`);
  const words = {};
  kinds.forEach((s) => { const w = STATUS_WORDS[s] || s; words[w] = (words[w] || 0) + counts[s]; });
  node.querySelector(".meta").textContent = ["ok", "run", "fail", "stop", "wait"]
    .filter((w) => words[w]).map((w) => `${w} ${words[w]}`).join(" · ");
  const bar = node.querySelector(".bar");
  const width = parseFloat(node.querySelector("rect.box").getAttribute("width")) - 20;
  let x = 0;
  const ns = "http://www.w3.org/2000/svg";
  bar.replaceChildren(...kinds.sort((p, q) => STATUS_ORDER.indexOf(p) - STATUS_ORDER.indexOf(q)).map((s) => {
    const rect = document.createElementNS(ns, "rect");
    const w = width * counts[s] / members.length;
    rect.setAttribute("class", `seg st-${s}`);
    rect.setAttribute("x", x.toFixed(1));
    rect.setAttribute("width", w.toFixed(1));
    rect.setAttribute("height", "3");
    x += w;
    return rect;
  }));
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function liveExecution(root) {
  const id = root.dataset.execution;
  const base = `/studio/executions/${encodeURIComponent(id)}`;
  let selected = null;
  let pending = null;
  let finished = false;
  let last = null;

  const draw = (state) => {
    last = state;
    root.querySelectorAll(".node[data-group]").forEach((node) => drawGroup(node, state.steps));
    for (const [name, step] of Object.entries(state.steps)) {
      const node = root.querySelector(`.node[data-step="${CSS.escape(name)}"]`);
      if (!node) continue;
      node.setAttribute("class", `node st-${step.status}` + (step.cached_from ? " cached" : "") +
        (name === selected ? " selected" : ""));
      const parts = [step.status];
      if (step.elapsed_s !== null) parts.push(duration(step.elapsed_s));
      if (step.attempts > 1) parts.push(`attempt ${step.attempts}`);
      if (step.cached_from) parts.push("cache hit");
      node.querySelector(".meta").textContent = parts.join(" · ");
    }
    const ex = state.execution;
    const badge = root.querySelector("#execution-status");
    badge.textContent = ex.status;
    badge.className = `badge st-${ex.status}`;
    root.querySelector("#execution-elapsed").textContent = duration(ex.elapsed_s);
    const failure = root.querySelector("#failure");
    failure.hidden = !ex.failure_reason;
    failure.textContent = ex.failure_reason || "";
    const summary = root.querySelector("#summary");
    summary.replaceChildren(...Object.keys(state.summary).sort().map((status) => {
      const li = document.createElement("li");
      li.className = `badge st-${status}`;
      li.textContent = `${status}: ${state.summary[status]}`;
      return li;
    }));
    finished = ex.finished;
    // Stop while it runs, retry once it failed or stopped (the server checks both anyway).
    if (root.dataset.canOperate === "true") {
      root.querySelector("#stop").disabled = ex.status !== "Executing";
      root.querySelector("#retry").disabled = !["Failed", "Stopped"].includes(ex.status);
      const rerun = root.querySelector("#rerun");
      if (rerun) rerun.disabled = !["Succeeded", "Failed"].includes(ex.status);
    }
  };

  const refresh = async () => {
    pending = null;
    const response = await fetch(`${base}/state`, { credentials: "same-origin" });
    if (response.ok) draw(await response.json());
    if (selected) showStep(selected, false);
  };
  const soon = () => { if (!pending) pending = setTimeout(refresh, 120); };

  const showStep = async (name, scroll) => {
    selected = name;
    root.querySelectorAll(".node").forEach((n) => n.classList.toggle("selected", n.dataset.step === name));
    const panel = root.querySelector("#step-panel");
    const logs = panel.querySelector("#logs");
    const atBottom = logs && logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    const response = await fetch(`${base}/steps/${encodeURIComponent(name)}`, { credentials: "same-origin" });
    const html = await response.text();
    if (selected !== name) return;
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fragment = doc.querySelector(".step") || doc.querySelector("main");
    panel.replaceChildren(document.importNode(fragment, true));
    const fresh = panel.querySelector("#logs");
    if (fresh && (scroll || atBottom)) fresh.scrollTop = fresh.scrollHeight;
  };

  const bindSteps = () => {
    root.querySelectorAll(".node[data-step]").forEach((node) => {
      const open = () => showStep(node.dataset.step, true);
      node.addEventListener("click", open);
      node.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    });
  };
  bindSteps();
  // A group opened or closed: the new graph's boxes get the handlers and the latest state.
  document.addEventListener("dag:replaced", (event) => {
    if (!root.contains(event.detail)) return;
    bindSteps();
    if (last) draw(last);
    if (selected) root.querySelectorAll(".node").forEach((n) => n.classList.toggle("selected", n.dataset.step === selected));
  });

  const initial = JSON.parse(root.querySelector("#state").textContent);
  draw(initial);
  if (initial.execution.finished) return;
  const source = new EventSource(`${base}/events`);
  const kinds = ["ExecutionStatusChanged", "ExecutionEnded", "StepStatusChanged", "AttemptFailed"];
  kinds.forEach((kind) => source.addEventListener(kind, soon));
  source.addEventListener("end", () => { source.close(); refresh(); });
  // A running step's log grows without events: follow the selected one while it runs.
  setInterval(() => {
    const panel = root.querySelector("[data-step-panel]");
    if (!finished && panel && ["Starting", "Executing"].includes(panel.dataset.status)) showStep(selected, false);
  }, 1000);
}

// The executions list: Compare is enabled once exactly two executions are ticked (the boxes
// are looked up on each change: the live list replaces them).
function compareChoice(form) {
  const button = form.querySelector("button[type=submit]");
  // getAttribute: the form's `id` property would name its checkboxes (they are called "id").
  const id = form.getAttribute("id");
  const update = () => {
    button.disabled = document.querySelectorAll(`input[type=checkbox][form="${id}"]:checked`).length !== 2;
  };
  document.addEventListener("change", (event) => { if (event.target.getAttribute("form") === id) update(); });
  document.addEventListener("executions:replaced", update);
  update();
}

// The executions list, live: when an execution starts or changes status, the table (and its
// pager) is fetched again as the page shows it now (its filters, its page) and replaced in
// place, keeping the ticked boxes. The stream resumes where the rendered page left off.
function liveList(holder) {
  let pending = null;
  const reload = async () => {
    pending = null;
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.querySelector("#executions-live");
    if (!fresh || !holder.isConnected) return;
    const ticked = new Set([...holder.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value));
    holder.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
    holder.querySelectorAll("input[type=checkbox]").forEach((box) => { box.checked = ticked.has(box.value); });
    document.dispatchEvent(new CustomEvent("executions:replaced"));
  };
  const soon = () => { if (!pending) pending = setTimeout(reload, 200); };
  const source = new EventSource(`/studio/executions/events?after_id=${encodeURIComponent(holder.dataset.after)}`);
  ["ExecutionStatusChanged", "ExecutionEnded"].forEach((kind) => source.addEventListener(kind, soon));
}

document.addEventListener("DOMContentLoaded", () => {
  new Set(document.querySelectorAll(".dag, [data-dag]")).forEach(initDag);
  const execution = document.querySelector("#execution[data-execution]");
  if (execution) liveExecution(execution);
  const compare = document.querySelector("form#compare-form.compare-bar");
  if (compare) compareChoice(compare);
  const list = document.querySelector("#executions-live[data-after]");
  if (list) liveList(list);
});
