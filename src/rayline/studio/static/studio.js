// rayline Studio: pan and zoom of the DAG, the live view of an execution, the step panel.
// Plain JavaScript, no dependencies; the server renders every page, this only updates it.
"use strict";

function panZoom(container) {
  const svg = container.querySelector("svg");
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

  const draw = (state) => {
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

  root.querySelectorAll(".node").forEach((node) => {
    const open = () => showStep(node.dataset.step, true);
    node.addEventListener("click", open);
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
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

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-dag]").forEach(panZoom);
  const execution = document.querySelector("#execution[data-execution]");
  if (execution) liveExecution(execution);
});
