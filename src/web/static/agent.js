// The agent desktop (templates/agent.html): presence, the screen pop, the preview offer, the
// disposition form and the callbacks, kept current by /api/agent/live. Needs app.js.
"use strict";
// The forms are sent by script; Enter in a field must not submit them as a GET.
for (const id of ["presence", "disposition"]) {
  document.getElementById(id).addEventListener("submit", (e) => e.preventDefault());
}
let current = null, phaseSince = null, phase = null;
function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
}
function showError(res, fallbackId) {
  const field = res.body && res.body.field;
  const msg = (res.body && res.body.error) || ("HTTP " + res.status);
  const el = field && document.getElementById(field + "-error");
  if (el) el.textContent = msg; else setText(fallbackId, msg);
}
document.querySelectorAll("#presence button").forEach((b) => b.addEventListener("click", async () => {
  const form = document.getElementById("presence");
  clearErrors(form);
  const res = await api("POST", "/api/agent/presence",
    { sip_uri: document.getElementById("f-sip_uri").value, state: b.dataset.state });
  if (res.status === 200) setText("agent-wanted", res.body.wanted);
  else showError(res, "sip_uri-error");
}));
document.getElementById("dispose").addEventListener("click", async () => {
  if (!current) return;
  const form = document.getElementById("disposition");
  clearErrors(form); setText("disposition-error", "");
  const v = (id) => document.getElementById(id).value;
  const body = { outcome: v("d-outcome"), notes: v("d-notes"),
    satisfaction: v("d-satisfaction") === "" ? null : Number(v("d-satisfaction")),
    callback_at: v("d-callback_at") || null, callback_agent: v("d-callback_agent") || null };
  const res = await api("POST", "/api/calls/" + current + "/disposition", body);
  if (res.status === 201) { form.reset(); document.getElementById("disposition-panel").hidden = true; }
  else showError(res, "disposition-error");
});
let currentInbound = null;
// A hotline caller on the line comes first; their screen pop is fetched once per call.
async function showInbound(call) {
  if (!call) { currentInbound = null; return false; }
  setText("call-state", call.ended_at ? "hotline call ended" : "hotline caller " + call.caller);
  document.getElementById("disposition-panel").hidden = true;
  if (currentInbound === call.inbound_call_id) return true;
  currentInbound = call.inbound_call_id; current = null;
  const res = await fetch("/agent/inbound/" + currentInbound + "/pop", { credentials: "same-origin" });
  document.getElementById("screen-pop").innerHTML = await res.text();
  return true;
}
async function showCall(call) {
  const panel = document.getElementById("disposition-panel");
  if (!call) {
    current = null; panel.hidden = true; setText("call-state", "no call");
    document.getElementById("screen-pop").innerHTML = '<p class="muted">Waiting for a call ... 等待来电</p>';
    return;
  }
  setText("call-state", call.call.ended_at ? "ended — please dispose" : "connected");
  panel.hidden = false;
  if (current === call.call.attempt_id && !document.getElementById("screen-pop").dataset.stale) return;
  current = call.call.attempt_id;
  const res = await fetch("/agent/calls/" + current + "/pop", { credentials: "same-origin" });
  document.getElementById("screen-pop").innerHTML = await res.text();
}
let previewId = null;
function showPreview(p) {
  const box = document.getElementById("preview");
  if (!p) { previewId = null; box.hidden = true; return; }
  const o = p.offer;
  if (previewId !== o.preview_id) setText("preview-error", "");
  previewId = o.preview_id;
  box.hidden = false;
  setText("preview-owner", p.owner ? p.owner.owner.name : "Unknown owner 未知业主");
  setText("preview-phone", o.phone);
  setText("preview-campaign", o.campaign_name + " (" + o.campaign + ")");
  setText("preview-units", p.owner ? p.owner.units.map((u) => u.code).join(", ") : "");
  setText("preview-tickets", p.owner ? String(p.owner.open_tickets.length) : "0");
  setText("preview-state", o.decision ? (o.decision === "dial" ? "dialling ..." : "skipped") : "preview");
  document.getElementById("preview-dial").disabled = !!o.decision;
  document.getElementById("preview-skip").disabled = !!o.decision;
}
for (const d of ["dial", "skip"]) {
  document.getElementById("preview-" + d).addEventListener("click", async () => {
    setText("preview-error", "");
    const res = await api("POST", "/api/agent/preview", { decision: d });
    if (res.status === 200) {
      setText("preview-state", d === "dial" ? "dialling ..." : "skipped");
      document.getElementById("preview-dial").disabled = true;
      document.getElementById("preview-skip").disabled = true;
    } else showError(res, "preview-error");
  });
}
function showCallbacks(list) {
  const t = document.getElementById("my-callbacks");
  t.querySelectorAll("tr.cb").forEach((r) => r.remove());
  for (const c of list) {
    const tr = document.createElement("tr"); tr.className = "cb";
    for (const x of [c.due_at.replace("T", " ").slice(0, 16), c.phone, c.reason, c.note]) {
      const td = document.createElement("td"); td.textContent = x; tr.appendChild(td);
    }
    t.appendChild(tr);
  }
}
follow("/api/agent/live", (s) => {
  if (s.presence) {
    phase = s.presence.phase; phaseSince = s.presence.phase_since ? new Date(s.presence.phase_since) : null;
    setText("agent-phase", phase); setText("agent-wanted", s.presence.wanted);
    document.getElementById("agent-phase").className = "badge " + phase;
  }
  const live = s.inbound && !s.inbound.ended_at;
  if (live || (s.inbound && !s.call)) showInbound(s.inbound);
  else { currentInbound = null; showCall(s.call); }
  showPreview(s.preview);
  showCallbacks(s.callbacks || []);
});
setInterval(() => {
  if (!phaseSince) { setText("phase-timer", ""); return; }
  const secs = Math.max(0, Math.round((Date.now() - phaseSince.getTime()) / 1000));
  const label = phase === "wrap" ? "wrap-up " : "";
  setText("phase-timer", label + Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0"));
}, 1000);
