// The campaign's wallboard (templates/campaign_live.html), kept current by
// /api/campaigns/CODE/live. The campaign's code and shown state come from #live's data-
// attributes. Needs app.js.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const page = document.getElementById("live");
  const code = page.dataset.code;
  const shownState = page.dataset.state;
  const pct = (share) => (share * 100).toFixed(1) + " %";
  const cell = (tr, text, href) => {
    const td = document.createElement("td");
    if (href) { const a = document.createElement("a"); a.href = href; a.textContent = text; td.appendChild(a); }
    else { td.textContent = text; }
    tr.appendChild(td);
  };
  const rows = (id, items) => {
    const body = document.getElementById(id);
    if (!body) return;
    body.replaceChildren(...items.map((cells) => {
      const tr = document.createElement("tr");
      cells.forEach(([text, href]) => cell(tr, String(text), href));
      return tr;
    }));
  };
  follow("/api/campaigns/" + encodeURIComponent(code) + "/live", (s) => {
    // A new state brings other buttons: the server draws them.
    if (s.state !== shownState) { location.reload(); return; }
    for (const k of ["dialing", "ringing", "connected", "waiting"]) setText("live-" + k, s.calls[k]);
    for (const k of ["free", "talk", "wrap", "paused"]) setText("live-agents-" + k, s.agents[k]);
    setText("live-hotline-waiting", s.hotline.waiting);
    setText("live-hotline-longest", s.hotline.longest_wait_secs);
    setText("live-hotline-sl", s.hotline.today.service_level === null ? "—" : pct(s.hotline.today.service_level));
    setText("live-hotline-target", s.hotline.answer_within_secs);
    for (const k of ["offered", "answered", "abandoned"]) setText("live-hotline-" + k, s.hotline.today[k]);
    setText("live-abandon-24h", pct(s.abandon.last_24h.rate));
    setText("live-abandon-30d", pct(s.abandon.last_30d.rate));
    document.getElementById("tile-abandon-24h").classList.toggle("over", s.abandon.last_24h.over);
    document.getElementById("tile-abandon-30d").classList.toggle("over", s.abandon.last_30d.over);
    setText("live-attempts", s.attempts_total);
    setText("live-done", s.contacts.done);
    setText("live-remaining", s.contacts.remaining);
    const base = "/campaigns/" + encodeURIComponent(code) + "/attempts?outcome=";
    rows("live-outcomes", Object.entries(s.attempts).map(([o, n]) => [[o, base + encodeURIComponent(o)], [n]]));
    rows("live-survey", s.survey.map((a) => [[a.node], [a.value], [a.answers]]));
  });
});
