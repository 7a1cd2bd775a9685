// The live page: the cost dashboard's six KPIs and six charts, the routing matrix and
// the resources grid, refreshed every 1-30 s from the sidecar's own read routes.
"use strict";

const $ = (id) => document.getElementById(id);
const charts = {};
const seen = { models: new Set(), teams: new Set() };

function showError(message) {
  const box = $("errors");
  box.hidden = false;
  box.textContent = message;
  // numbers of another range or an older moment must not pass for the current ones
  for (const el of document.querySelectorAll(".kpi b")) el.textContent = "–";
  document.body.dataset.loaded = "error";
}
window.addEventListener("error", (e) => showError("page error: " + e.message));

const fmt = {
  usd: (v) => "$" + Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 4 }),
  int: (v) => Math.round(Number(v)).toLocaleString("en-US"),
  ms: (v) => Number(v).toLocaleString("en-US", { maximumFractionDigits: 1 }) + " ms",
  pct: (v) => Number(v).toLocaleString("en-US", { maximumFractionDigits: 2 }) + "%",
  mb: (v) => v == null ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 1 }) + " MB",
};

function size(el) {
  return { width: Math.max(el.clientWidth - 8, 200), height: 200 };
}

function draw(id, data, opts) {
  const el = $(id);
  if (charts[id]) { charts[id].destroy(); delete charts[id]; }
  el.textContent = "";
  if (!data[0].length) {
    el.innerHTML = '<div class="empty">no data in this range</div>';
    return;
  }
  charts[id] = new uPlot({ ...size(el), legend: { show: false }, ...opts }, data, el);
}

function bars(id, labels, series, colors) {
  const xs = labels.map((_, i) => i);
  const n = series.length;
  draw(id, [xs, ...series.map((s) => s.values)], {
    scales: { x: { time: false, range: [-0.5, Math.max(labels.length - 0.5, 0.5)] },
              y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [{ values: (u, splits) => splits.map((i) => Number.isInteger(i) ? short(labels[i] ?? "") : ""),
             space: 10, gap: 2, size: 60, rotate: labels.length > 4 ? -35 : 0 },
           { size: 60, values: (u, splits) => splits.map(compact) }],
    series: [{}, ...series.map((s, k) => ({
      label: s.label, fill: colors[k % colors.length], stroke: colors[k % colors.length],
      paths: uPlot.paths.bars({ size: [0.8 / n, 80], align: 0, gap: 1 }),
      points: { show: false } }))],
  });
}

function short(s) { return s.length > 14 ? s.slice(0, 13) + "…" : s; }
function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return +(v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return +(v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return +(v / 1e3).toFixed(1) + "k";
  return +v.toFixed(4) + "";
}

function line(id, xs, ys, color) {
  draw(id, [xs, ys], {
    scales: { x: { time: true } },
    axes: [{}, { size: 60 }],
    series: [{}, { label: "cost", stroke: color, fill: color + "33", width: 2 }],
  });
}

function options(select, values, set) {
  values.forEach((v) => set.add(v));
  const chosen = select.value;
  const wanted = ["", ...Array.from(set).sort()];
  if (select.options.length === wanted.length) return;
  select.textContent = "";
  for (const v of wanted) {
    const o = document.createElement("option");
    o.value = v; o.textContent = v || "all";
    select.appendChild(o);
  }
  select.value = chosen;
}

async function get(path, params) {
  const query = new URLSearchParams(params || {}).toString();
  const res = await fetch(path + (query ? "?" + query : ""), { headers: { Accept: "application/json" } });
  const body = await res.json();
  if (!res.ok) throw new Error(path + ": " + (body.message || body.error || res.status));
  return body;
}

function renderDashboard(d) {
  $("kpi-cost").textContent = fmt.usd(d.total_cost);
  $("kpi-tokens").textContent = fmt.int(d.total_tokens);
  $("kpi-latency").textContent = fmt.ms(d.avg_latency_ms);
  $("kpi-cache").textContent = fmt.pct(d.cache_hit_rate);
  $("kpi-requests").textContent = fmt.int(d.total_requests);
  $("kpi-errors").textContent = fmt.pct(d.error_rate);
  const src = d.source;
  $("source").textContent = src.kind === "prometheus" ? "from Prometheus" : "from this sidecar (since " + src.from + ")";
  $("source").title = src.note;

  const hours = Object.keys(d.hourly_trend);
  line("c-trend", hours.map((h) => Date.parse(h.replace(" ", "T") + ":00Z") / 1000),
       hours.map((h) => d.hourly_trend[h].cost), "#3a62c7");
  const models = Object.keys(d.model_usage);
  options($("f-model"), models, seen.models);
  options($("f-team"), Object.keys(d.team_usage || {}), seen.teams);
  bars("c-models", models, [{ label: "requests", values: models.map((m) => d.model_usage[m].count) }], ["#3a62c7"]);
  bars("c-tokens", models, [{ label: "tokens", values: models.map((m) => d.model_usage[m].tokens) }], ["#0e9f6e"]);
  const dist = d.latency_distribution.filter((b) => b.le_ms !== null);
  bars("c-latency", dist.map((b) => "≤" + (b.le_ms >= 1000 ? b.le_ms / 1000 + "s" : b.le_ms + "ms")),
       [{ label: "requests", values: dist.map((b) => b.count) }], ["#9061f9"]);
  bars("c-cache", ["hit", "miss"], [{ label: "lookups", values: [d.cache.hits, d.cache.misses] }], ["#0e9f6e"]);
  const p = d.latency_percentiles_ms;
  bars("c-pct", ["p50", "p95", "p99"], [{ label: "ms", values: [p.p50 || 0, p.p95 || 0, p.p99 || 0] }], ["#e3a008"]);
}

function renderRouting(r) {
  const tiers = new Set();
  Object.values(r.matrix).forEach((row) => Object.keys(row).forEach((t) => tiers.add(t)));
  const cols = Array.from(tiers).sort();
  if (!cols.length) { $("routing").textContent = "no routing decisions in this range"; return; }
  let html = "<table><tr><th>complexity</th>" + cols.map((t) => "<th>" + esc(t) + "</th>").join("") + "</tr>";
  for (const [c, row] of Object.entries(r.matrix)) {
    html += "<tr><td>" + esc(c) + "</td>" + cols.map((t) => {
      const cell = row[t];
      return "<td>" + (cell ? fmt.int(cell.count) + (cell.avg_score != null ? " <small>(" + cell.avg_score.toFixed(2) + ")</small>" : "") : "") + "</td>";
    }).join("") + "</tr>";
  }
  html += "</table><p class=\"muted\">" + fmt.int(r.total_decisions) + " decisions, avg " +
    fmt.ms(r.avg_decision_time_ms) + ", fallback " + fmt.pct(r.fallback_rate) + "; count (average score)</p>";
  $("routing").innerHTML = html;
}

function renderResources(r) {
  const cells = [
    ["CPU", r.cpu_percent == null ? "–" : fmt.pct(r.cpu_percent)],
    ["Memory", fmt.mb(r.memory.used_mb) + " / " + fmt.mb(r.memory.total_mb)],
    ["Connections", r.connections == null ? "–" : fmt.int(r.connections)],
    ["Disk read/write", r.disk_mb_s.read.toFixed(2) + " / " + r.disk_mb_s.write.toFixed(2) + " MB/s"],
    ["Network in/out", r.network_mb_s.recv.toFixed(2) + " / " + r.network_mb_s.sent.toFixed(2) + " MB/s"],
  ];
  for (const [gpu, v] of Object.entries(r.vram)) cells.push(["GPU " + gpu + " VRAM", fmt.mb(v.used_mb) + " (" + fmt.pct(v.percent) + ")"]);
  for (const [k, v] of Object.entries(r.faiss_index_mb)) cells.push(["Index " + k, fmt.mb(v)]);
  for (const [k, v] of Object.entries(r.redis_cache_mb)) cells.push(["Cache " + k, fmt.mb(v)]);
  for (const [k, v] of Object.entries(r.thread_pool)) cells.push(["Pool " + k, fmt.int(v.active) + " busy, " + fmt.int(v.queued) + " queued"]);
  $("resources").innerHTML = cells.map(([k, v]) => "<div><span>" + esc(k) + "</span>" + esc(v) + "</div>").join("");
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

let timer = null;
async function refresh() {
  clearTimeout(timer);
  const hours = $("f-range").value;
  const params = { time_range_hours: hours, min_cost: $("f-min").value || "0" };
  if ($("f-model").value) params.model_filter = $("f-model").value;
  if ($("f-team").value) params.team_alias = $("f-team").value;
  try {
    const [d, r, res] = await Promise.all([
      get("/api/v1/dashboard/metrics", params),
      get("/api/v1/read/routing", { minutes: Math.round(hours * 60) }),
      get("/api/v1/read/resources"),
    ]);
    renderDashboard(d);
    renderRouting(r);
    renderResources(res);
    $("errors").hidden = true;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (e) {
    showError(e.message);
  }
  timer = setTimeout(refresh, 1000 * Number($("f-refresh").value));
}

// ?range=HOURS opens the page on one of the offered ranges (a link to share)
const wanted = new URLSearchParams(location.search).get("range");
if (wanted && Array.from($("f-range").options).some((o) => o.value === wanted)) $("f-range").value = wanted;
for (const id of ["f-range", "f-model", "f-team", "f-min", "f-refresh"]) $(id).addEventListener("change", refresh);
$("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
refresh();
