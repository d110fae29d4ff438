// huifang console: the little JavaScript the pages share. No build step.
"use strict";

/** The session's CSRF token, from the page's <meta>. */
function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

/** Calls the JSON API with the CSRF header; resolves to {status, body}. */
async function api(method, path, body) {
  const init = { method, headers: { "x-csrf-token": csrfToken() }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty body */ }
  return { status: res.status, body: data };
}

/** Follows a server-sent event stream, calling onData with each parsed JSON message. */
function follow(path, onData) {
  const source = new EventSource(path);
  source.onmessage = (e) => onData(JSON.parse(e.data));
  return source;
}

/** Sets the text of the element with this id, when it exists. */
function setText(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}
