// rayline Studio, endpoints: invoke an endpoint from its page (prediction and latency), the
// delete confirmation, and a reload once a changing endpoint (Creating, Updating) settles.
// Plain JavaScript, no dependencies.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function invokeForm(root) {
  const form = document.getElementById("invoke-form");
  if (!form) return;
  const body = document.getElementById("invoke-body");
  const type = document.getElementById("invoke-type");
  const button = document.getElementById("invoke");
  const error = document.getElementById("invoke-error");
  const result = document.getElementById("invoke-result");
  const prediction = document.getElementById("prediction");
  const media = document.getElementById("invoke-media");
  const latency = document.getElementById("latency");
  const columns = (body.dataset.columns || "").split(",").filter((c) => c);

  const placeholder = () => {
    const zeros = columns.map(() => "0").join(",");
    body.placeholder = type.value === "application/json"
      ? `{"instances": [[${zeros || "..."}]]}  (rows in column order)`
      : `one row per line, no header${columns.length ? ": " + columns.join(",") : ""}`;
  };
  type.addEventListener("change", placeholder);
  placeholder();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    result.hidden = true;
    try {
      const response = await fetch(`${root.dataset.base}/invoke`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": type.value, "X-CSRF-Token": csrfToken() },
        body: body.value,
      });
      let answer = null;
      try { answer = await response.json(); } catch (_) { answer = null; }
      if (!response.ok || !answer) {
        result.hidden = true;
        error.textContent = (answer && answer.detail) || `the invocation failed (${response.status})`;
        error.hidden = false;
        return;
      }
      prediction.textContent = answer.prediction;
      media.textContent = answer.content_type;
      latency.textContent = `${answer.latency_ms.toFixed(1)} ms`;
      result.hidden = false;
    } catch (failure) {
      result.hidden = true;
      error.textContent = `no answer from the server: ${failure}`;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

function deleteConfirm() {
  const start = document.getElementById("delete");
  const form = document.getElementById("delete-form");
  if (!start || !form || start.disabled) return;
  start.addEventListener("click", () => {
    form.hidden = false;
    start.hidden = true;
    document.getElementById("delete-confirm").focus();
  });
  document.getElementById("delete-cancel").addEventListener("click", () => {
    form.hidden = true;
    start.hidden = false;
  });
}

function watchWhileSettling(root) {
  const element = document.getElementById("endpoint-state");
  if (!element) return;
  const state = JSON.parse(element.textContent);
  if (!state.settling) return;
  const poll = async () => {
    try {
      const response = await fetch(`${root.dataset.base}/state`, { credentials: "same-origin" });
      if (response.ok) {
        const now = await response.json();
        if (now.status !== state.status || now.model_version !== state.model_version) {
          window.location.reload();
          return;
        }
      }
    } catch (_) { /* the server restarting: try again */ }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("endpoint");
  if (!root) return;
  invokeForm(root);
  deleteConfirm();
  watchWhileSettling(root);
});
