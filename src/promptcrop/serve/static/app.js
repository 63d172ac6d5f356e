// promptcrop's page: upload a photo to POST /v1/crops, draw the crops the API returns.
// Boxes in the record are xyxy pixels of the upright photo; the SVG overlay uses the photo's own
// pixel grid (viewBox = natural size), so every drawn box is the API's box, unscaled.
"use strict";

const COLOURS = ["#ff4040", "#40c8ff", "#ffd200", "#78ff78", "#ff78ff"];
const KEY_STORE = "promptcrop-api-key";
const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
let photoUrl = null;
let downloads = [];
let defaultSource = null;

function apiHeaders() {
  const key = sessionStorage.getItem(KEY_STORE);
  return key ? { "X-API-Key": key } : {};
}

function showError(message) {
  $("error").textContent = message || "";
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `the server answered ${response.status} ${response.statusText}`;
}

async function loadInfo() {
  const response = await fetch("/v1/info", { headers: apiHeaders() });
  if (response.status === 401) {
    $("key-form").hidden = false;
    $("api-key").focus();
    return;
  }
  $("key-form").hidden = true;
  if (!response.ok) { showError(await errorMessage(response)); return; }
  const info = await response.json();
  const notice = $("notice");
  if (!info.queries_available) {
    notice.textContent = `Crops without a query only: ${info.queries_unavailable}`;
    notice.hidden = false;
    $("query").disabled = true;
    $("query-image").disabled = true;
  } else {
    notice.hidden = true;
  }
}

function selectedRatios(image) {
  const ratios = [];
  let original = false;
  for (const box of document.querySelectorAll("input[name=ratio]:checked")) {
    if (box.value === "original") original = true; else ratios.push(box.value);
  }
  const custom = $("custom-ratio").value.trim();
  if (custom) ratios.push(custom);
  // "original" alone sends no ratio (the API's default); with others it is the photo's W:H.
  if (original && ratios.length) ratios.push(`${image.naturalWidth}:${image.naturalHeight}`);
  return ratios;
}

function showPhoto(file) {
  return new Promise((resolve, reject) => {
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = URL.createObjectURL(file);
    const img = $("photo");
    img.onload = () => resolve(img);
    img.onerror = () => resolve(img); // the server gives the precise reason
    img.src = photoUrl;
  });
}

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function drawRecord(record) {
  const [width, height] = record.image_size;
  const svg = $("overlay");
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  for (const g of record.grounding || []) {
    const [x1, y1, x2, y2] = g.box;
    svg.append(svgEl("rect", { class: "grounding", x: x1, y: y1, width: x2 - x1, height: y2 - y1,
                               "data-phrase": g.phrase, "data-box": g.box.join(",") }));
  }
  const ratios = [...new Set(record.crops.map((c) => c.ratio))];
  const placed = []; // label boxes already drawn: a new label moves down until it overlaps none
  for (const crop of record.crops) {
    const [x1, y1, x2, y2] = crop.box;
    const colour = COLOURS[ratios.indexOf(crop.ratio) % COLOURS.length];
    const group = svgEl("g", { class: "crop", "data-ratio": crop.ratio, "data-rank": crop.rank,
                               "data-score": crop.score, "data-box": crop.box.join(",") });
    group.append(svgEl("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, stroke: colour }));
    const label = svgEl("text", { x: Math.max(x1, 0) + 4, y: Math.max(y1, 0) + 16 });
    label.textContent = `${crop.ratio} #${crop.rank} ${crop.score.toFixed(2)}`;
    group.append(label);
    svg.append(group);
    placeLabel(label, placed);
  }
}

function placeLabel(label, placed) {
  const overlaps = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  let box = label.getBBox();
  for (let tries = 0; tries < 50 && placed.some((p) => overlaps(box, p)); tries += 1) {
    label.setAttribute("y", String(Number(label.getAttribute("y")) + box.height + 2));
    box = label.getBBox();
  }
  placed.push(box);
}

function cropCanvas(img, crop) {
  const [x1, y1, x2, y2] = crop.box;
  const [outW, outH] = crop.size;
  const canvas = document.createElement("canvas");
  canvas.width = outW;
  canvas.height = outH;
  const ctx = canvas.getContext("2d");
  const pad = crop.pad_color || [0, 0, 0];
  ctx.fillStyle = `rgb(${pad[0]}, ${pad[1]}, ${pad[2]})`;
  ctx.fillRect(0, 0, outW, outH);
  ctx.imageSmoothingQuality = "high";
  const sx = outW / (x2 - x1), sy = outH / (y2 - y1);
  ctx.drawImage(img, -x1 * sx, -y1 * sy, img.naturalWidth * sx, img.naturalHeight * sy);
  return canvas;
}

async function showThumbnails(img, record) {
  for (const url of downloads) URL.revokeObjectURL(url);
  downloads = [];
  const list = $("crops");
  list.replaceChildren();
  for (const crop of record.crops) {
    const blob = await new Promise((resolve) => cropCanvas(img, crop).toBlob(resolve, "image/png"));
    const url = URL.createObjectURL(blob);
    downloads.push(url);
    const figure = document.createElement("figure");
    const thumb = document.createElement("img");
    thumb.src = url;
    thumb.alt = `crop ${crop.ratio} rank ${crop.rank}`;
    const caption = document.createElement("figcaption");
    caption.textContent = `${crop.ratio} · #${crop.rank} · score ${crop.score.toFixed(3)} · ${crop.size[0]}×${crop.size[1]}`;
    const link = document.createElement("a");
    link.href = url;
    link.className = "download";
    link.download = `crop-${crop.ratio.replace(/[^0-9a-z]+/gi, "x")}-${crop.rank}.png`;
    link.textContent = "Download";
    figure.append(thumb, caption, link);
    list.append(figure);
  }
}

async function runCrop(event) {
  event.preventDefault();
  showError("");
  const file = $("image").files[0];
  if (!file) { showError("pick a photo first"); return; }
  const img = await showPhoto(file);
  const form = new FormData();
  form.append("image", file);
  const query = $("query").value.trim();
  if (query) form.append("query", query);
  const example = $("query-image").files[0];
  if (example) form.append("query_image", example);
  for (const ratio of selectedRatios(img)) form.append("aspect", ratio);
  form.append("k", $("k").value || "3");
  const button = $("run");
  button.disabled = true;
  $("status").textContent = "cropping…";
  try {
    const response = await fetch("/v1/crops", { method: "POST", body: form, headers: apiHeaders() });
    if (response.status === 401) { sessionStorage.removeItem(KEY_STORE); await loadInfo(); }
    if (!response.ok) {
      $("result").hidden = true;
      $("status").textContent = "";
      showError(await errorMessage(response));
      return;
    }
    const record = await response.json();
    $("result").hidden = false; // shown first: label placement measures the drawn text
    drawRecord(record);
    await showThumbnails(img, record);
    $("status").textContent = `mode: ${record.mode} · ${record.crops.length} crops`;
    document.body.dataset.state = "done";
  } catch (err) {
    showError(`the request failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// The URL panel: crop URLs of an image in the server's source (GET /v1/url says whether this
// server signs them for the page's caller; POST /v1/url signs them server-side).
async function loadUrlPanel() {
  const response = await fetch("/v1/url", { headers: apiHeaders() });
  if (!response.ok) { $("url-panel").hidden = true; return; }
  const info = await response.json();
  defaultSource = info.default;
  const select = $("url-source");
  select.replaceChildren(...info.sources.map((name) => new Option(name, name)));
  select.hidden = info.sources.length < 2;
  $("url-signing").textContent = {
    signed: "URLs are signed by the server for you (API key).",
    unsigned: "This server accepts unsigned URLs (development); they are not signed.",
    none: "This server signs URLs only for API-key holders.",
  }[info.signing];
  $("url-run").disabled = info.signing === "none";
  $("url-panel").hidden = false;
}

function urlOptions() {
  const options = {};
  const source = $("url-source").value;
  if (source && source !== defaultSource) options.source = source; // the default goes unnamed
  const query = $("query").value.trim();
  if (query && !$("query").disabled) options.query = query;
  const custom = $("custom-ratio").value.trim();
  const ratio = [...document.querySelectorAll("input[name=ratio]:checked")].map((b) => b.value)
    .find((v) => v !== "original") || custom || null;
  if (ratio) options.aspect = ratio;
  return options;
}

async function makeUrl(event) {
  event.preventDefault();
  $("url-error").textContent = "";
  const path = $("url-path").value.trim();
  if (!path) { $("url-error").textContent = "give the image's path inside the source"; return; }
  const widths = $("url-widths").value.split(/[\s,]+/).filter(Boolean).map(Number);
  const options = urlOptions();
  if (widths.length) options.width = widths[0];
  const response = await fetch("/v1/url", {
    method: "POST", headers: { ...apiHeaders(), "Content-Type": "application/json" },
    body: JSON.stringify({ path, options, widths, base: window.location.origin }),
  });
  if (!response.ok) { $("url-error").textContent = await errorMessage(response); return; }
  const answer = await response.json();
  $("url-text").value = answer.url;
  $("url-snippet").value = answer.img;
  const preview = $("url-preview");
  preview.onload = () => { document.body.dataset.urlState = "done"; };
  preview.onerror = () => { $("url-error").textContent = "the server could not make this crop (see the URL's /v1/info)"; };
  preview.src = answer.url;
  $("url-result").hidden = false;
}

function setUpDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) {
      $("image").files = e.dataTransfer.files;
      $("drop-text").textContent = e.dataTransfer.files[0].name;
    }
  });
  $("image").addEventListener("change", () => {
    const file = $("image").files[0];
    if (file && !$("url-path").value) $("url-path").value = file.name;
    $("drop-text").textContent = file ? file.name : "Drop a photo here, or press Enter to pick one";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpDrop();
  $("crop-form").addEventListener("submit", runCrop);
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("api-key").value);
    loadInfo().then(loadUrlPanel);
  });
  $("url-form").addEventListener("submit", (e) => makeUrl(e).catch((err) => {
    $("url-error").textContent = `the request failed: ${err.message}`;
  }));
  loadInfo().then(loadUrlPanel).catch((err) => showError(`cannot reach the server: ${err.message}`));
});
