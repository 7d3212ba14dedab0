// rayline Studio: the SQL box of a feature group's page (Ctrl/Cmd+Enter runs the query; the
// Run button says the query is running until the page answers).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("sql-form");
  const box = document.getElementById("sql");
  if (!form || !box) return;
  const button = document.getElementById("run-sql");
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", () => {
    // Disabled after the submit has read the form: a second click does not run it twice.
    window.setTimeout(() => { button.disabled = true; button.textContent = "Running…"; }, 0);
  });
});
