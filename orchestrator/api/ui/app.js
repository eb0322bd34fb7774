// The duty dashboard: plain JavaScript over the REST API (no build step, no CDN).
// The token stays in this tab's sessionStorage and goes only in the Authorization header.
"use strict";
const $ = (sel) => document.querySelector(sel);
let token = sessionStorage.getItem("tosca-token") || "";
let selected = null;     // execution id shown in the detail panel
let logFrom = 0;         // next log line to fetch for it
let logPolling = null;   // the execution whose logs are long-polled

function text(value) { return value === null || value === undefined ? "" : String(value); }
function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = text(value);
  if (cls) td.className = cls;
  return td;
}
function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) { signOut("the token was refused"); throw new Error("401"); }
  if (!response.ok && response.status !== 202) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function signOut(reason) {
  token = "";
  sessionStorage.removeItem("tosca-token");
  $("#main").hidden = true;
  $("#login").hidden = false;
  $("#logout").hidden = true;
  showError(reason || "");
}

async function refreshWorkflows() {
  const body = $("#workflows tbody");
  const { workflows } = await api("/workflows");
  body.replaceChildren();
  for (const wf of workflows) {
    const row = body.insertRow();
    cell(row, wf.name);
    cell(row, wf.environment_name || wf.id.split("@")[1]);
    const inputs = cell(row, "");
    const fields = {};
    for (const [name, def] of Object.entries(wf.inputs || {})) {
      const input = document.createElement("input");
      input.name = name;
      input.placeholder = name + (def.default !== undefined && def.default !== null ? " = " + def.default : "");
      input.size = 12;
      inputs.append(input);
      fields[name] = input;
    }
    const button = document.createElement("button");
    button.textContent = "Trigger";
    button.className = "trigger";
    button.dataset.workflow = wf.id;
    button.onclick = async () => {
      const given = {};
      for (const [name, input] of Object.entries(fields)) if (input.value !== "") given[name] = input.value;
      try {
        const answer = await api("/workflows/" + encodeURIComponent(wf.id), {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ inputs: given }),
        });
        showError("");
        await refreshExecutions();
        select(answer.id);
      } catch (e) { showError("trigger failed: " + e.message); }
    };
    row.insertCell().append(button);
  }
}

async function refreshExecutions() {
  const { executions } = await api("/executions");
  const body = $("#executions tbody");
  body.replaceChildren();
  executions.sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  for (const ex of executions.slice(0, 50)) {
    const row = body.insertRow();
    row.dataset.id = ex.id;
    if (ex.id === selected) row.className = "selected";
    const link = document.createElement("a");
    link.href = "#" + ex.id;
    link.textContent = ex.id;
    link.onclick = (event) => { event.preventDefault(); select(ex.id); };
    row.insertCell().append(link);
    cell(row, ex.workflow);
    cell(row, ex.user);
    cell(row, ex.urgency);
    cell(row, ex.status, "status " + ex.status);
    cell(row, ex.created_at ? new Date(ex.created_at * 1000).toLocaleTimeString() : "");
    const actions = row.insertCell();
    if (!["SUCCEEDED", "FAILED", "CANCELLED"].includes(ex.status)) {
      const cancel = document.createElement("button");
      cancel.textContent = "Cancel";
      cancel.className = "cancel";
      cancel.onclick = async () => {
        try { await api("/executions/" + ex.id, { method: "DELETE" }); await refreshExecutions(); }
        catch (e) { showError("cancel failed: " + e.message); }
      };
      actions.append(cancel);
    }
  }
}

async function refreshDetail() {
  if (!selected) return;
  const ex = await api("/executions/" + selected);
  $("#detail").hidden = false;
  $("#detail-id").textContent = ex.id;
  const status = $("#detail-status");
  status.textContent = ex.status;
  status.className = "status " + ex.status;
  const body = $("#steps tbody");
  body.replaceChildren();
  for (const step of ex.steps || []) {
    const row = body.insertRow();
    cell(row, step.id);
    cell(row, step.status);
    cell(row, step.job_id);
  }
  if (logPolling !== selected) pollLogs(selected);
  if (ex.status === "SUCCEEDED") await showProducts(ex.id);
}

async function pollLogs(id) {
  // Long poll: each call returns as soon as new lines exist, or after 20 s.
  logPolling = id;
  while (logPolling === id && token) {
    try {
      const page = await api(`/executions/${id}/logs?from=${logFrom}&timeout=20s&levels=0`);
      for (const line of page.logs) $("#log").textContent += `${line.timestamp} ${line.level} ${line.content}\n`;
      logFrom += page.logs.length;
      if (!page.logs.length) {
        const ex = await api("/executions/" + id);
        if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(ex.status)) break;
      }
    } catch (e) { await new Promise((r) => setTimeout(r, 2000)); }
  }
}

async function showProducts(id) {
  let listing;
  try { listing = await api(`/executions/${id}/products`); } catch (e) { return; }
  const names = new Set(listing.products.map((p) => p.name));
  if (!names.size) return;
  $("#products").hidden = false;
  const base = `/executions/${id}/products/`;
  if (names.has("summary.json")) {
    const summary = await api(base + "summary.json");
    const counts = Object.entries(summary.segments_by_level || {}).map(([k, v]) => `${v} ${k}`).join(", ");
    $("#levels").textContent = `highest level ${text(summary.highest_level).toUpperCase()} (${counts} segments)`;
  }
  if (names.has("coastal_segments.csv")) {
    const rows = (await api(base + "coastal_segments.csv")).trim().split("\n").map((l) => l.split(","));
    const head = $("#segments thead tr");
    head.replaceChildren();
    for (const h of rows[0]) { const th = document.createElement("th"); th.textContent = h; head.append(th); }
    const body = $("#segments tbody");
    body.replaceChildren();
    const levelAt = rows[0].indexOf("level");
    for (const r of rows.slice(1)) {
      const row = body.insertRow();
      if (levelAt >= 0) row.className = r[levelAt];
      for (const v of r) cell(row, v);
    }
  }
  if (names.has("max_height.png")) {
    const blob = await fetch(base + "max_height.png", { headers: { Authorization: "Bearer " + token } }).then((r) => r.blob());
    $("#max-height").src = URL.createObjectURL(blob);
  }
}

function select(id) {
  if (selected !== id) { $("#log").textContent = ""; logFrom = 0; $("#products").hidden = true; }
  selected = id;
  refreshDetail().catch((e) => showError(e.message));
  for (const row of document.querySelectorAll("#executions tbody tr")) row.classList.toggle("selected", row.dataset.id === id);
}

async function refreshEvents() {
  try {
    const { events } = await api("/events?limit=20");
    $("#events-section").hidden = false;
    const body = $("#events tbody");
    body.replaceChildren();
    for (const ev of events.reverse()) {
      const row = body.insertRow();
      cell(row, ev.message);
      cell(row, new Date(ev.received_at * 1000).toLocaleTimeString());
      cell(row, ev.source);
      cell(row, ev.event ? `M${ev.event.magnitude} ${ev.event.place || ev.event.agency}` : "");
      cell(row, `${text(ev.outcome)}: ${text(ev.reason)}`);
    }
  } catch (e) { $("#events-section").hidden = true; }  // only admins see alerts
}

async function refreshDeployments() {
  const { deployments } = await api("/deployments");
  const body = $("#deployments tbody");
  body.replaceChildren();
  for (const d of deployments) {
    const row = body.insertRow();
    cell(row, d.id);
    cell(row, d.status);
    cell(row, (d.workflows || []).join(", "));
  }
}

async function refreshAll() {
  if (!token) return;
  try {
    await Promise.all([refreshExecutions(), refreshDetail(), refreshEvents()]);
  } catch (e) { if (e.message !== "401") showError(e.message); }
}

async function signIn() {
  try {
    await Promise.all([refreshWorkflows(), refreshExecutions(), refreshDeployments()]);
    $("#main").hidden = false;
    $("#login").hidden = true;
    $("#logout").hidden = false;
    showError("");
    refreshEvents();
  } catch (e) { if (e.message !== "401") showError(e.message); }
}

$("#login").onsubmit = (event) => {
  event.preventDefault();
  token = $("#token").value.trim();
  sessionStorage.setItem("tosca-token", token);
  $("#token").value = "";
  signIn();
};
$("#logout").onclick = () => signOut("");
if (token) signIn();
if (location.hash.length > 1) select(location.hash.slice(1));
setInterval(refreshAll, 1000);
