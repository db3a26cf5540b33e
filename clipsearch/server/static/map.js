// The library's map, drawn on a canvas: every item a point (its thumbnail once zoomed in), each group
// named at its centre. Wheel or pinch zooms about the pointer, dragging pans, a click on a group's
// name (or on an item) calls back. Used by the web page's Map view and by `clipsearch map --html`.
"use strict";

function clipMap(canvas, data, options) {
  const ctx = canvas.getContext("2d");
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf", "#3b5bdb", "#f08c00", "#2b8a3e", "#c92a2a", "#862e9c", "#5c940d"];
  const colour = (g) => g < 0 ? "#bbb" : palette[g % palette.length];
  const thumbs = new Map();
  let scale = 1, dx = 0, dy = 0, drag = null, labels = [];
  const size = () => Math.min(canvas.width, canvas.height) * 0.9;
  const margin = () => [(canvas.width - size()) / 2, (canvas.height - size()) / 2];
  const toScreen = (x, y) => { const [mx, my] = margin(); return [mx + (x * size()) * scale + dx, my + (y * size()) * scale + dy]; };

  function picture(id) {
    if (!thumbs.has(id)) {
      const url = options.thumbnail && options.thumbnail(id);
      if (!url) { thumbs.set(id, null); return null; }
      const img = new Image();
      img.onload = () => draw();
      img.src = url;
      thumbs.set(id, img);
    }
    const img = thumbs.get(id);
    return img && img.complete && img.naturalWidth ? img : null;
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth * ratio, h = canvas.clientHeight * ratio;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const items = data.items || [];
    const seen = items.map((it) => [it, ...toScreen(it.x, it.y)])
      .filter(([, x, y]) => x > -50 && y > -50 && x < canvas.width + 50 && y < canvas.height + 50);
    const side = Math.min(96, 10 * scale) * ratio;  // thumbnails once the points have room
    const drawThumbs = side >= 28 && seen.length <= 400;
    for (const [it, x, y] of seen) {
      const img = drawThumbs ? picture(it.id) : null;
      if (img) {
        const k = side / Math.max(img.naturalWidth, img.naturalHeight);
        const iw = img.naturalWidth * k, ih = img.naturalHeight * k;
        ctx.fillStyle = colour(it.cluster);
        ctx.fillRect(x - iw / 2 - 2, y - ih / 2 - 2, iw + 4, ih + 4);
        ctx.drawImage(img, x - iw / 2, y - ih / 2, iw, ih);
      } else {
        ctx.fillStyle = colour(it.cluster);
        ctx.beginPath(); ctx.arc(x, y, Math.max(2, Math.min(6, 1.5 * Math.sqrt(scale))) * ratio, 0, 7); ctx.fill();
      }
    }
    labels = [];
    ctx.font = `${13 * ratio}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    const overlaps = (a) => labels.some(([, b]) => a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]);
    const biggest = [...(data.clusters || [])].sort((a, b) => b.size - a.size);
    for (const c of biggest) {  // the largest groups named first; a name that would cover another waits for a zoom
      const [x, y0] = toScreen(c.x, c.y);
      const text = `${c.label} (${c.size})`;
      const tw = ctx.measureText(text).width + 12 * ratio, th = 20 * ratio;
      const place = [0, 1, -1, 2, -2].map((k) => [x - tw / 2, y0 - th / 2 + k * th * 1.1, tw, th]).find((b) => !overlaps(b));
      if (!place) continue;
      const box = place, y = box[1] + th / 2;
      ctx.fillStyle = "#fffd"; ctx.fillRect(...box);
      ctx.strokeStyle = colour(c.id); ctx.lineWidth = 2 * ratio; ctx.strokeRect(...box);
      ctx.fillStyle = "#222"; ctx.fillText(text, box[0] + 6 * ratio, y);
      labels.push([c, box]);
    }
  }

  function at(event) {
    const r = canvas.getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
    return [(event.clientX - r.left) * ratio, (event.clientY - r.top) * ratio];
  }
  function zoom(factor, [px, py]) {
    const next = Math.max(0.5, Math.min(200, scale * factor));
    const f = next / scale, [mx, my] = margin();  // the point under the pointer stays put
    dx = px - mx - (px - mx - dx) * f; dy = py - my - (py - my - dy) * f;
    scale = next; draw();
  }
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.25 : 0.8, at(e)); }, { passive: false });
  canvas.addEventListener("pointerdown", (e) => { drag = { start: at(e), moved: false, dx, dy }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const [x, y] = at(e);
    if (Math.abs(x - drag.start[0]) + Math.abs(y - drag.start[1]) > 4) drag.moved = true;
    dx = drag.dx + x - drag.start[0]; dy = drag.dy + y - drag.start[1]; draw();
  });
  canvas.addEventListener("pointerup", (e) => {
    const click = drag && !drag.moved; drag = null;
    if (!click) return;
    const [x, y] = at(e);
    const hit = labels.find(([, b]) => x >= b[0] && x <= b[0] + b[2] && y >= b[1] && y <= b[1] + b[3]);
    if (hit) { options.onCluster && options.onCluster(hit[0]); return; }
    let best = null, bestD = 12 * (window.devicePixelRatio || 1);
    for (const it of data.items || []) {
      const [sx, sy] = toScreen(it.x, it.y);
      const d = Math.hypot(sx - x, sy - y);
      if (d < bestD) { best = it; bestD = d; }
    }
    if (best && options.onItem) options.onItem(best);
  });
  window.addEventListener("resize", draw);
  draw();
  return { draw, zoom: (f) => zoom(f, [canvas.width / 2, canvas.height / 2]), labels: () => labels };
}
