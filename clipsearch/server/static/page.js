// The search page: one search line (read by the server as the CLI reads it), results that load as
// the user scrolls, a viewer with its own address, filters that write themselves into the line,
// the library's start page, the map and the duplicates. Everything shown lives in the address.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const $ = (id) => document.getElementById(id);
const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
let pageSize = 48;     // results asked for at a time
let cluster = null;      // a group of the map the search keeps to: {id, label}
let uploaded = null;     // a dropped or pasted picture, kept for a search by a part of it
let listing = null;      // what the grid lists: {url, options, label, items, next, loading}
let shownKey = null;     // the address (less the viewer) of what the grid shows
let current = null;      // the item open in the viewer
let viewing = -1;        // its place in listing.items (-1: not from the list)
let library = null;      // /api/activity's last answer

async function api(url, options = {}) {
  options.headers = Object.assign({}, options.headers, token ? { Authorization: "Bearer " + token } : {});
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || data.detail || response.statusText);
  return data;
}

// ------------------------------------------------------------------ the search line and its controls
function tokens(line) { return line.match(/(?:[^\s"]+|"[^"]*")+/g) || []; }
function keyValue(key) {
  const t = tokens($("q").value).find((x) => x.toLowerCase().startsWith(key + ":"));
  return t ? t.slice(key.length + 1).replace(/^"|"$/g, "") : "";
}
function setKey(key, value) {  // the line keeps one key:value per control, written as a person would type it
  const kept = tokens($("q").value).filter((x) => !x.toLowerCase().startsWith(key + ":"));
  if (value) kept.push(key + ":" + (/\s/.test(value) ? `"${value}"` : value));
  $("q").value = kept.join(" ");
}
function syncControls() {
  if ([...document.querySelectorAll("#filters [data-key]")].some((el) => keyValue(el.dataset.key))) $("filterbox").open = true;
  for (const el of document.querySelectorAll("#filters [data-key]")) {
    const v = keyValue(el.dataset.key);
    if (el.tagName === "SELECT" && v && ![...el.options].some((o) => o.value === v)) el.append(new Option(v, v));
    el.value = el.type === "date" && !/^\d{4}-\d\d-\d\d$/.test(v) ? "" : v;
  }
}
for (const el of document.querySelectorAll("#filters [data-key]")) {
  el.addEventListener("change", () => { setKey(el.dataset.key, el.value.trim()); search(); });
}

function ranking() {  // the toggles: newest first, only what the model calls a match
  return ($("sort").value === "date" ? "&sort=date" : "") + ($("relevant").checked ? "&relevant=true" : "");
}
function setChip() {
  $("chip").style.display = cluster ? "inline-block" : "none";
  $("chiptext").textContent = cluster ? `group ${cluster.id}: ${cluster.label}` : "";
}

// ------------------------------------------------------------------ cards
const KINDS = {  // a score's scale, said in words: a text score is never read as a likeness
  cosine: ["likeness", "cosine between the picture and the query, -1 to 1: higher is closer"],
  bm25: ["text", "BM25 text relevance of the words found: no upper bound, not comparable with a likeness"],
  rrf: ["fused", "rank fusion of the meaning and the text rankings: only the order counts"],
};
function nameOf(item) {
  const base = item.path.split("/").pop();
  return base + (item.time !== undefined ? ` @ ${item.time} s` : item.page ? ` p. ${item.page}` : "");
}
function scoreOf(item) {
  const kind = KINDS[item.score_kind];
  if (!kind || item.score === undefined) return null;
  const part = item.match === "region" || item.match === "tile";
  const digits = item.score_kind === "rrf" ? 3 : 2;
  return { text: `${part ? "part " : ""}${kind[0]} ${item.score.toFixed(digits)}`, title: kind[1] };
}
function card(item, index) {
  const div = document.createElement("div");
  div.className = "card" + (item.keeper ? " keeper" : "");
  div.dataset.id = item.id;
  div.tabIndex = 0;
  div.setAttribute("role", "button");
  div.title = item.path;
  div.innerHTML = `<img loading="lazy"><div class="meta"><div class="name"></div><div class="facts">`
    + `<span class="taken"></span><span class="score"></span></div></div><div class="snippet"></div>`;
  const img = div.querySelector("img");
  img.src = withToken(item.thumbnail);
  img.alt = nameOf(item);
  div.querySelector(".name").textContent = nameOf(item);
  div.querySelector(".taken").textContent = item.taken ? item.taken.slice(0, 10) : "";
  const score = scoreOf(item), slot = div.querySelector(".score");
  if (score) { slot.textContent = score.text; slot.title = score.title; } else slot.remove();
  if (item.relevance_cutoff !== undefined && item.score > item.relevance_cutoff) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "✓ match";
    badge.title = `the model calls it a match: a likeness above ${item.relevance_cutoff.toFixed(2)}`;
    div.querySelector(".facts").append(badge);
  }
  const snippet = div.querySelector(".snippet");
  if (item.text_snippet) {  // the match comes in [brackets]: shown marked, the rest as plain text
    for (const [i, part] of item.text_snippet.split(/\[|\]/).entries()) {
      if (i % 2) { const m = document.createElement("mark"); m.textContent = part; snippet.append(m); }
      else snippet.append(document.createTextNode(part));
    }
  } else snippet.remove();
  div.setAttribute("aria-label", `${nameOf(item)}${score ? ", " + score.text : ""}`);
  div.onclick = () => open(item, index);
  div.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(item, index); } };
  return div;
}

// ------------------------------------------------------------------ listings that load as the user scrolls
function showGrid() {
  $("error").textContent = "";
  $("mapview").style.display = "none";
  $("grid").style.display = "grid";
}
function list(url, label, options = {}) {
  listing = { url, options, label, items: [], next: 0, loading: false };
  showGrid();  // the last results stay until the first of these come: no blank flash between searches
  return more();
}
async function more() {
  const l = listing;
  if (!l || l.loading || l.next === null) return;
  l.loading = true;
  try {
    const data = await api(`${l.url}${l.url.includes("?") ? "&" : "?"}k=${pageSize}&offset=${l.next}`, l.options);
    if (l !== listing) return;  // a newer listing took its place meanwhile
    const start = l.items.length;
    l.items.push(...data.results);
    l.next = data.next_offset ?? null;
    const cards = data.results.map((it, i) => card(it, start + i));
    if (start) $("grid").append(...cards); else { $("grid").replaceChildren(...cards); scrollTo(0, 0); }
    $("empty").hidden = true;
    $("error").textContent = "";
    const n = l.items.length;
    if (l.label) $("status").textContent = `${l.label} · ${n}${l.next !== null ? "+" : ""} result${n === 1 && l.next === null ? "" : "s"}`;
    if (data.read_as) showReading(data.read_as); else $("readas").hidden = true;
    if (!l.items.length) { $("empty").hidden = false; $("emptywhy").textContent = data.empty || ""; }
  } catch (e) {
    if (l === listing) {
      $("error").textContent = e.message;
      l.next = null;
      if (!l.items.length) {  // nothing of the last answer stays to be read as this one's
        $("grid").replaceChildren();
        $("readas").hidden = $("empty").hidden = true;
        if (l.label) $("status").textContent = `${l.label} · not run`;
      }
    }
  } finally { l.loading = false; }
  if (l === listing && l.next !== null && near()) more();  // a short page: the sentinel is still in view
}
function near() { return $("sentinel").getBoundingClientRect().top < innerHeight + 600; }
new IntersectionObserver((seen) => { if (seen.some((e) => e.isIntersecting)) more(); }, { rootMargin: "600px" })
  .observe($("sentinel"));

function showReading(r) {  // how the server read the line, when it held more than a description
  const parts = [];
  if (r.query) parts.push(`meaning “${r.query}”`);
  if (r.text) parts.push(`text “${r.text}”`);
  for (const w of r.subtract || []) parts.push(`minus “${w}”`);
  for (const [k, v] of Object.entries(r.filters || {})) if (k !== "cluster") parts.push(`${k}: ${[].concat(v).join(", ")}`);
  const plain = parts.length === 1 && r.query && r.query === $("q").value.trim();
  $("readas").hidden = plain || !parts.length;
  $("readas").textContent = "Read as: " + parts.join(" · ");
}

// ------------------------------------------------------------------ what is shown lives in the address
function address(params, replace = false) {
  const url = new URL(location.href);
  url.search = "";
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  history[replace ? "replaceState" : "pushState"]({}, "", url);
  shownKey = keyOf(url.searchParams);
}
function keyOf(params) {
  const p = new URLSearchParams(params);
  p.delete("item");
  return p.toString();
}

function search(push = true) {
  const q = $("q").value.trim();
  syncControls();
  if (!q && !cluster) return home(push);
  if (push) {
    address({ q, cluster: cluster && cluster.id, group: cluster && cluster.label,
              sort: $("sort").value === "date" ? "date" : "", relevant: $("relevant").checked ? "1" : "" });
  }
  $("start").hidden = true;
  const label = q ? `results for “${q}”` : `group ${cluster.id}: ${cluster.label}`;
  return list("/api/search?explain=true&q=" + encodeURIComponent(q) + (cluster ? "&cluster=" + cluster.id : "") + ranking(), label);
}

function home(push = true) {  // the library: its size, its groups, its newest pictures
  if (push) address({});
  cluster = null;
  setChip();
  $("start").hidden = false;
  if (library) $("status").textContent = `${library.items} items`;
  summary();
  const shown = list("/api/search?sort=date&q=", null);
  if (!$("groups").children.length) $("groups").textContent = "naming the library's groups…";
  api("/api/map?items=false").then((m) => {
    $("groups").replaceChildren(...m.clusters.filter((c) => c.id >= 0).slice(0, 24).map((c) => {
      const b = document.createElement("button");
      b.className = "chip";
      b.type = "button";
      b.textContent = `${c.label} (${c.size})`;
      b.onclick = () => { cluster = { id: c.id, label: c.label }; setChip(); $("q").value = ""; search(); };
      return b;
    }));
  }).catch(() => { $("groups").textContent = ""; });
  return shown;
}
function summary() {
  if (!library) return;
  const text = library.waiting_for_text ? ` · reading text: ${library.waiting_for_text} waiting` : "";
  $("library").textContent = `${library.items} items in ${library.files} files · ${library.with_text} with text${text}`;
}

async function fromAddress() {
  const params = new URLSearchParams(location.search);
  const key = keyOf(params);
  let shown = null;
  if (key !== shownKey || !listing) {
    shownKey = key;
    $("q").value = params.get("q") || "";
    if (params.get("category")) setKey("category", params.get("category"));  // an older address's parameter
    $("sort").value = params.get("sort") === "date" ? "date" : "score";
    $("relevant").checked = params.get("relevant") === "1";
    cluster = params.get("cluster") ? { id: Number(params.get("cluster")), label: params.get("group") || "" } : null;
    setChip();
    if (params.get("similar")) shown = similarTo(Number(params.get("similar")), params.get("box"), false);
    else if (params.get("view") === "map") showMap(false);
    else if (params.get("view") === "duplicates") duplicates(false);
    else shown = search(false);
  }
  if (params.get("item")) { await shown; openById(Number(params.get("item"))); }  // ← → need the list
  else shut();
}
window.addEventListener("popstate", fromAddress);

function similarTo(id, box = null, push = true, name = null) {
  shut();
  $("q").value = "";  // the line and its controls describe a search, not this
  syncControls();
  if (push) address({ similar: id, box, cluster: cluster && cluster.id });
  $("start").hidden = true;
  const extra = new URLSearchParams();
  if (box) extra.set("box", box);
  if (keyValue("category")) extra.set("category", keyValue("category"));
  return list(`/api/items/${id}/similar?` + extra,
              (box ? `similar to a part (${box}) of ` : "similar to ") + (name ? `${name} (item ${id})` : `item ${id}`));
}

function byImage(file, box = null) {
  if (!box) {  // shown, so a part of it can be searched by too
    uploaded = file;
    current = null;
    $("big").src = URL.createObjectURL(file);
    $("vname").textContent = file.name || "pasted image";
    $("info").textContent = "";
    $("play").hidden = true;
    drawBoxes([]);
  }
  $("start").hidden = true;
  list("/api/similar?" + (box ? "box=" + encodeURIComponent(box) : ""), "similar to " + (box ? `a part (${box}) of ` : "") + (file.name || "pasted image"),
       { method: "POST", body: file });
}

function drawBoxes(boxes) {  // where the words searched for stand, over the picture
  for (const old of document.querySelectorAll("#stage .tbox")) old.remove();
  for (const [x0, y0, x1, y1] of boxes) {
    const d = document.createElement("div");
    d.className = "tbox";
    Object.assign(d.style, { left: x0 * 100 + "%", top: y0 * 100 + "%", width: (x1 - x0) * 100 + "%", height: (y1 - y0) * 100 + "%" });
    $("stage").append(d);
  }
}

// a rectangle dragged on the picture: a search by that part of it
let dragFrom = null;
function fraction(e) {
  const r = $("big").getBoundingClientRect();
  return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
}
$("stage").addEventListener("pointerdown", (e) => { e.preventDefault(); dragFrom = fraction(e); $("stage").setPointerCapture(e.pointerId); });
$("stage").addEventListener("pointermove", (e) => {
  if (!dragFrom) return;
  const [x, y] = fraction(e), sel = $("sel");
  Object.assign(sel.style, { display: "block", left: Math.min(x, dragFrom[0]) * 100 + "%", top: Math.min(y, dragFrom[1]) * 100 + "%",
                             width: Math.abs(x - dragFrom[0]) * 100 + "%", height: Math.abs(y - dragFrom[1]) * 100 + "%" });
});
$("stage").addEventListener("pointerup", (e) => {
  if (!dragFrom) return;
  const [x, y] = fraction(e), from = dragFrom;
  dragFrom = null;
  $("sel").style.display = "none";
  const box = [Math.min(x, from[0]), Math.min(y, from[1]), Math.max(x, from[0]), Math.max(y, from[1])];
  if (box[2] - box[0] < 0.03 || box[3] - box[1] < 0.03) return;  // a click, not a box
  const text = box.map((v) => v.toFixed(3)).join(",");
  if (current) similarTo(current.id, text, true, nameOf(current)); else if (uploaded) { shut(); byImage(uploaded, text); }
});

let drawn = null;
async function showMap(push = true) {
  if (push) address({ view: "map" });
  $("grid").style.display = "none";
  $("start").hidden = $("empty").hidden = true;
  listing = null;
  $("mapview").style.display = "block";
  $("mapview").style.height = Math.max(320, innerHeight - $("mapview").getBoundingClientRect().top - 8) + "px";
  $("status").textContent = "drawing the map…";
  try {
    const data = await api("/api/map");
    $("status").textContent = `${data.count} items in ${data.clusters.length} groups · ${data.method}`;
    drawn = clipMap($("mapcanvas"), data, {
      thumbnail: (id) => withToken(`/api/items/${id}/thumbnail`),
      onCluster: (c) => { cluster = { id: c.id, label: c.label }; setChip(); $("q").value = ""; search(); },
      onItem: (it) => open({ id: it.id, path: it.path, thumbnail: `/api/items/${it.id}/thumbnail`, file: `/api/items/${it.id}/file` }),
    });
  } catch (e) { $("error").textContent = e.message; }
}

// ------------------------------------------------------------------ the viewer
function human(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i++; }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}
const SOURCES = { exif: "from the camera", pdf: "from the PDF", mtime: "the file's date" };
async function openById(id) {
  const index = listing ? listing.items.findIndex((it) => it.id === id) : -1;
  if (index >= 0) { open(listing.items[index], index, false); return; }
  try { open(await api(`/api/items/${id}`), -1, false); }
  catch (e) { $("error").textContent = `${e.message}: moved, deleted or indexed again since this address was made`; }
}
let opener = null;      // the card the viewer was opened from: focus goes back to it
async function open(item, index = -1, push = true) {
  if (!$("modal").classList.contains("open")) opener = document.activeElement;
  current = item;
  viewing = index;
  uploaded = null;
  if (push) {
    const url = new URL(location.href);
    url.searchParams.set("item", item.id);
    history[new URLSearchParams(location.search).has("item") ? "replaceState" : "pushState"]({ viewer: true }, "", url);
  }
  $("modal").classList.add("open");
  const size = Math.min(2400, Math.round(Math.max(innerWidth, innerHeight) * (devicePixelRatio || 1)));
  $("big").src = withToken(`/api/items/${item.id}/view?size=${size}`);
  $("big").alt = nameOf(item);
  $("vname").textContent = nameOf(item);
  drawBoxes(item.text_boxes || []);
  const video = item.time !== undefined;
  $("play").hidden = !video;  // the browser's player starts at the frame (a media fragment)
  if (video) $("play").href = withToken(`/api/items/${item.id}/file`) + "#t=" + item.time;
  $("openfile").href = withToken(`/api/items/${item.id}/file`) + (item.page ? "#page=" + item.page : "");
  $("download").href = withToken(`/api/items/${item.id}/file`);
  $("prev").disabled = viewing <= 0;
  $("next").disabled = viewing < 0 || (viewing >= listing.items.length - 1 && listing.next === null);
  $("close").focus();
  let d;
  try { d = await api(`/api/items/${item.id}`); } catch (e) {
    if (current !== item) return;
    $("info").textContent = `${e.message}: moved, deleted or indexed again since this page listed it`;
    $("textbox").hidden = true;
    return;
  }
  if (current !== item) return;
  $("download").setAttribute("download", d.name || "");
  const facts = [["file", d.path], ["folder", d.folder], ["type", d.type], ["pixels", `${d.width} × ${d.height}`],
    ["file size", human(d.bytes || d.size)],
    ["taken", d.taken ? d.taken.replace("T", " ") + (SOURCES[d.taken_source] ? ` (${SOURCES[d.taken_source]})` : "") : ""],
    ["camera", d.camera], ["place", d.place || (d.lat !== undefined ? `${d.lat.toFixed(4)}, ${d.lon.toFixed(4)}` : "")],
    ["page", d.page], ["at", d.time !== undefined ? `${d.time} s` : ""],
    ["categories", Object.entries(d.categories || {}).map(([f, c]) => `${f}: ${c}`).join(", ")]];
  const dl = document.createElement("dl");
  for (const [k, v] of facts) if (v) { const t = document.createElement("dt"), e = document.createElement("dd"); t.textContent = k; e.textContent = v; dl.append(t, e); }
  $("info").replaceChildren(dl);
  $("textbox").hidden = !d.text;
  $("text").textContent = d.text ? `${d.text}\n\n(${d.text_source === "pdf" ? "the PDF's text" : "read by OCR"})` : "";
  current.folder = d.folder;
}
function shut() {
  const was = $("modal").classList.contains("open");
  $("modal").classList.remove("open");
  current = null;
  if (was && opener && document.contains(opener)) opener.focus();
}
function closeViewer() {  // the viewer has an address: closing it is going back, as the back button does
  if (!$("modal").classList.contains("open")) return;
  if (history.state && history.state.viewer) history.back();
  else { shut(); const url = new URL(location.href); url.searchParams.delete("item"); history.replaceState({}, "", url); }
}
async function step(d) {
  if (!listing || viewing < 0) return;
  const j = viewing + d;
  if (j >= listing.items.length && listing.next !== null) await more();
  if (j < 0 || j >= listing.items.length) return;
  const url = new URL(location.href);
  url.searchParams.set("item", listing.items[j].id);
  history.replaceState(history.state, "", url);
  open(listing.items[j], j, false);
}

// ------------------------------------------------------------------ duplicates
const TIER_SAYS = {
  revision: "the same page with different words: a revision, not a copy",
  document: "the same document saved again, every page in order",
};
function dupCard(item) {  // a card, with its evidence against the keeper and a revision's changed words
  const div = card(item, -1);
  const why = document.createElement("div");
  why.className = "why";
  why.textContent = item.keeper ? "keeper (kept when the others are moved)" : `${item.tier}, distance ${item.distance}`;
  for (const c of item.changes || []) {
    const line = document.createElement("div");
    const was = document.createElement("del"); was.textContent = c.from;
    const now = document.createElement("ins"); now.textContent = c.to;
    line.append(was, " → ", now);
    why.append(line);
  }
  div.append(why);
  return div;
}
function button(text, title, onclick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.title = title; b.onclick = onclick;
  return b;
}
function actions(g, div) {  // on a server started with --allow-changes: the same safety as the CLI
  const said = document.createElement("span");
  said.className = "hint";
  said.setAttribute("role", "status");
  const dismiss = button("Not duplicates", "Remember that these are different pictures: never reported again", async () => {
    try { await api(`/api/duplicates/${g.group}/dismiss`, { method: "POST" }); div.remove(); }
    catch (e) { said.textContent = e.message; }
  });
  const move = button("Move copies…", "Move all but the keeper to the server's folder: the plan is shown first", async () => {
    try {
      const plan = await api(`/api/duplicates/${g.group}/plan`);
      const moving = plan.entries.filter((e) => e.move);
      if (!moving.length) { said.textContent = "nothing here moves: " + plan.entries.map((e) => e.why).filter(Boolean).join("; "); return; }
      const list = moving.map((e) => `${e.from}\n  → ${e.to}`).join("\n");
      const careful = g.tier === "exact" ? "" : `\n\nThese match by ${g.tier} evidence, not byte for byte: look at them first.`;
      if (!confirm(`Move ${moving.length} file(s) to ${plan.dest}?\n\n${list}${careful}\n\nThe keeper stays. Undo is offered at the top of this view.`)) return;
      move.disabled = dismiss.disabled = true;
      await api(`/api/duplicates/${g.group}/move`, { method: "POST" });
      duplicates(false);  // drawn again: the group is gone, its move waits at the top to be undone
    } catch (e) { said.textContent = e.message; move.disabled = dismiss.disabled = false; }
  });
  return [dismiss, move, said];
}
async function recentMoves() {  // the moves of this server's folder that can still be undone, each with its Undo
  const moves = await api("/api/moves");
  if (!moves.length) return [];
  const bar = document.createElement("div");
  bar.className = "group";
  const head = document.createElement("div");
  head.className = "ghead";
  head.textContent = "Moves that can be undone";
  bar.append(head);
  for (const m of moves) {
    const line = document.createElement("div");
    line.textContent = `${m.files} file(s) moved ${new Date(m.time * 1000).toLocaleString()} `;
    const said = document.createElement("span");
    said.className = "hint";
    line.append(button("Undo", "Put the files back and index them again", async () => {
      try {
        const back = await api(`/api/moves/${encodeURIComponent(m.log)}/undo`, { method: "POST" });
        said.textContent = `restored ${back.restored} file(s)` + (back.problems.length ? `; ${back.problems.join("; ")}` : "");
        poll();
        setTimeout(() => duplicates(false), 800);
      } catch (e) { said.textContent = e.message; }
    }), " ", said);
    bar.append(line);
  }
  return [bar];
}
async function duplicates(push = true) {
  if (push) address({ view: "duplicates" });
  listing = null;
  $("start").hidden = $("empty").hidden = $("readas").hidden = true;
  $("status").textContent = "looking for duplicates…";
  try {
    await ready;
    const groups = await api("/api/duplicates");
    const undoable = library && library.changes ? await recentMoves() : [];
    $("mapview").style.display = "none";
    $("grid").style.display = "block";
    $("grid").replaceChildren(...undoable, ...groups.map((g) => {
      const div = document.createElement("div");
      div.className = "group";
      const head = document.createElement("div");
      head.className = "ghead";
      head.textContent = `${g.tier}: ${TIER_SAYS[g.tier] || "copies of one picture"} (${g.items.length} items)`;
      if (library && library.changes) head.append(...actions(g, div));
      div.append(head, ...g.items.map(dupCard));
      return div;
    }));
    $("status").textContent = `${groups.length} groups`;
    $("empty").hidden = groups.length > 0;
    if (!groups.length) $("emptywhy").textContent = "no duplicates: every picture is kept once";
  } catch (e) { $("error").textContent = e.message; }
}

// ------------------------------------------------------------------ wiring
$("form").onsubmit = (e) => { e.preventDefault(); search(); };
$("go").onclick = () => search();
$("dups").onclick = () => duplicates();
$("mapbtn").onclick = () => showMap();
$("homebtn").onclick = () => { $("q").value = ""; home(); };
$("browse").onclick = () => { $("q").value = ""; home(); };
$("chipx").onclick = () => { cluster = null; setChip(); search(); };
$("sort").onchange = () => search();
$("relevant").onchange = () => search();
$("similar").onclick = () => current && similarTo(current.id, null, true, nameOf(current));
$("folder").onclick = () => {
  if (!current || !current.folder) return;
  const folder = current.folder;
  shut();
  $("q").value = "";
  setKey("under", folder);  // a filter alone lists its items newest first
  search();
};
$("close").onclick = closeViewer;
$("prev").onclick = () => step(-1);
$("next").onclick = () => step(1);
$("modal").onclick = (e) => { if (e.target.id === "modal") closeViewer(); };
document.addEventListener("keydown", (e) => {
  const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
  if ($("modal").classList.contains("open")) {
    if (e.key === "Tab") {  // the viewer keeps the focus while it is open
      const inside = [...$("modal").querySelectorAll("button:not(:disabled), a[href], summary")].filter((x) => x.offsetParent);
      const at = inside.indexOf(document.activeElement);
      const next = at < 0 ? 0 : (at + (e.shiftKey ? -1 : 1) + inside.length) % inside.length;
      e.preventDefault();
      inside[next].focus();
    } else if (e.key === "Escape") { e.preventDefault(); closeViewer(); }
    else if (e.key === "ArrowLeft" && !typing) step(-1);
    else if (e.key === "ArrowRight" && !typing) step(1);
  } else if (e.key === "/" && !typing) { e.preventDefault(); $("q").focus(); }
});
const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (e) => { const f = e.dataTransfer.files[0]; if (f) byImage(f); });
document.addEventListener("paste", (e) => {
  const f = [...e.clipboardData.files].find((x) => x.type.startsWith("image/"));
  if (f) byImage(f);
});

async function poll() {  // new items as a watcher adds them; text as it is read
  try {
    const before = library;
    library = await api("/api/activity");
    summary();
    if (!before) {
      if (!$("status").textContent) $("status").textContent = `${library.items} items`;
    } else if (library.items !== before.items) {
      $("status").textContent = `${library.items} items (${library.items > before.items ? "+" : ""}${library.items - before.items} since you opened the page)`;
      if (!$("start").hidden && scrollY < 200 && !$("modal").classList.contains("open")) home(false);
    }
  } catch (e) { /* a server restarting: the next poll tells */ }
}
const ready = poll();  // the library's counts, and whether this server may change anything
ready.then(() => {
  api("/api/status").then((s) => {
    if (/^\d+ items$/.test($("status").textContent)) $("status").textContent = `${s.items} items · ${s.model}`;
  }).catch(() => {});
});
setInterval(() => { if (!document.hidden) poll(); }, 5000);
api("/api/categories").then((facets) => {
  for (const f of facets) for (const c of f.categories) $("category").append(new Option(`${f.name}: ${c.name}`, c.name));
  syncControls();
}).catch(() => {});
fromAddress();
