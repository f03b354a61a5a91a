// The perfkit dashboard: reads the JSON API every few seconds and renders
// it with plain DOM calls and hand-written SVG. No dependencies, no
// network beyond this service. Every value shown is also kept in a data-*
// attribute so tests (and curious people) can read it back.
//
// No false calm: where the API has nothing to measure (no requests, no
// lookups, no system sampler, no cache) the page says so ("no data yet",
// "not sampled", "no cache") instead of showing 0.00 ms or 100/100, and one
// window selector drives every windowed request.
(function () {
  "use strict";

  var REFRESH_MS = 5000;
  var TOKEN_KEY = "perfkit-api-token";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var body = document.body;
  var API = body.dataset.api || "/api/performance";
  var tokenRequired = body.dataset.tokenRequired === "true";
  var refreshes = 0;
  var windowMinutes = 5;
  var NO_DATA = "no data yet";
  // Short names of the health components' inputs (the API's `input` field).
  var INPUT_LABELS = {
    p95_response_time: "p95", error_rate: "5xx rate", avg_memory_mb: "mean RSS",
    p95_query_time: "query p95", cache_hit_rate: "hit rate"
  };

  function $(id) { return document.getElementById(id); }

  // ---- token ------------------------------------------------------------

  function token() {
    try { return window.sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function askToken(reason) {
    var t = window.prompt(reason || "PERFORMANCE_API_TOKEN or PERFORMANCE_READ_TOKEN for this service:", "");
    if (t === null) { return null; }
    t = t.trim();
    try { window.sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { /* private mode: keep nothing */ }
    return t;
  }

  function headers(extra) {
    var h = { "Accept": "application/json" };
    var t = token();
    if (t) { h["Authorization"] = "Bearer " + t; }
    for (var k in extra || {}) { h[k] = extra[k]; }
    return h;
  }

  function api(path, options) {
    var opts = options || {};
    return fetch(API + path, {
      method: opts.method || "GET",
      headers: headers(opts.headers),
      body: opts.body,
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error((data && data.error && data.error.message) || ("HTTP " + res.status));
          err.status = res.status;
          err.code = data && data.error && data.error.code;
          throw err;
        }
        return data;
      });
    });
  }

  // ---- formatting ---------------------------------------------------------

  function ms(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) { return "–"; }
    var v = seconds * 1000;
    // Under 10 µs, two decimals of a millisecond would read as a false zero.
    if (v > 0 && v < 0.01) { return (v * 1000).toFixed(1) + " µs"; }
    return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + " ms";
  }
  function pct(ratio) {
    if (typeof ratio !== "number" || !isFinite(ratio)) { return "–"; }
    return (ratio * 100).toFixed(ratio < 0.1 && ratio > 0 ? 2 : 1) + " %";
  }
  function num(n) { return typeof n === "number" ? n.toLocaleString("en-US") : "–"; }
  function mb(n) { return typeof n === "number" ? n.toFixed(1) + " MiB" : "–"; }
  function cpu(n) { return typeof n === "number" ? n.toFixed(1) + " %" : "–"; }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  // A value in the unit the API names for it: seconds as ms, ratios as %, MiB.
  function inUnit(v, unit) {
    return unit === "seconds" ? ms(v) : unit === "ratio" ? pct(v) : unit === "mib" ? mb(v) : String(v);
  }
  // Alert values: seconds for slow requests and queries, MiB for memory, a ratio for error rates.
  function alertUnit(type) {
    return type === "high_memory" ? "mib" : type === "high_error_rate" ? "ratio" : "seconds";
  }
  function time(iso) {
    if (!iso) { return "–"; }
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
  }

  function setText(id, text, attrs) {
    var el = $(id);
    if (!el) { return; }
    el.textContent = text;
    for (var k in attrs || {}) { el.setAttribute("data-" + k, String(attrs[k])); }
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function fillTable(tableId, emptyId, rows, render) {
    var table = $(tableId);
    var tbody = table.tBodies[0];
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      render(tr, row);
      tbody.appendChild(tr);
    });
    table.setAttribute("data-rows", String(rows.length));
    table.hidden = rows.length === 0;
    if (emptyId) { $(emptyId).hidden = rows.length !== 0; }
  }

  // ---- SVG charts ---------------------------------------------------------

  function svgEl(name, attrs, text) {
    var el = document.createElementNS(SVG_NS, name);
    for (var k in attrs) { el.setAttribute(k, String(attrs[k])); }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function clear(svg) { while (svg.firstChild) { svg.removeChild(svg.firstChild); } }

  // Plot area inside the viewBox, leaving room for labels.
  function frame(svg) {
    var vb = svg.viewBox.baseVal;
    var f = { x: 40, y: 8, w: vb.width - 48, h: vb.height - 24 };
    svg.appendChild(svgEl("line", { "class": "axis", x1: f.x, y1: f.y + f.h, x2: f.x + f.w, y2: f.y + f.h }));
    svg.appendChild(svgEl("line", { "class": "axis", x1: f.x, y1: f.y, x2: f.x, y2: f.y + f.h }));
    return f;
  }

  function yLabels(svg, f, max, fmt) {
    svg.appendChild(svgEl("text", { "class": "label", x: f.x - 4, y: f.y + 8, "text-anchor": "end" }, fmt(max)));
    svg.appendChild(svgEl("text", { "class": "label", x: f.x - 4, y: f.y + f.h, "text-anchor": "end" }, fmt(0)));
  }

  function xLabels(svg, f, points) {
    if (!points.length) { return; }
    svg.appendChild(svgEl("text", { "class": "label", x: f.x, y: f.y + f.h + 12 }, time(points[0].start)));
    svg.appendChild(svgEl("text", { "class": "label", x: f.x + f.w, y: f.y + f.h + 12, "text-anchor": "end" },
      time(points[points.length - 1].start)));
  }

  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  // Bars: one <rect> per bucket, data-count and data-start on each.
  function barChart(svg, points, valueOf, fmt) {
    clear(svg);
    var f = frame(svg);
    var max = niceMax(Math.max.apply(null, points.map(valueOf).concat([0])));
    yLabels(svg, f, max, fmt);
    xLabels(svg, f, points);
    var w = points.length ? f.w / points.length : 0;
    points.forEach(function (p) {
      var v = valueOf(p);
      var h = f.h * v / max;
      var i = points.indexOf(p);
      svg.appendChild(svgEl("rect", {
        "class": "bar-rect", x: (f.x + i * w + 0.5).toFixed(2), y: (f.y + f.h - h).toFixed(2),
        width: Math.max(w - 1, 0.5).toFixed(2), height: h.toFixed(2),
        "data-start": p.start, "data-count": p.count, "data-value": v
      }));
    });
  }

  // Lines: one <polyline> per series and a dot per point with data-value.
  function lineChart(svg, points, series, fmt) {
    clear(svg);
    var f = frame(svg);
    var all = [0];
    series.forEach(function (s) { points.forEach(function (p) { all.push(s.value(p)); }); });
    var max = niceMax(Math.max.apply(null, all));
    yLabels(svg, f, max, fmt);
    xLabels(svg, f, points);
    var step = points.length > 1 ? f.w / (points.length - 1) : 0;
    series.forEach(function (s, si) {
      var coords = points.map(function (p, i) {
        var x = points.length > 1 ? f.x + i * step : f.x + f.w / 2;
        return [x, f.y + f.h - f.h * s.value(p) / max];
      });
      if (coords.length > 1) {
        svg.appendChild(svgEl("polyline", {
          "class": "line " + s.cls, "data-series": s.cls,
          points: coords.map(function (c) { return c[0].toFixed(1) + "," + c[1].toFixed(1); }).join(" ")
        }));
      }
      coords.forEach(function (c, i) {
        svg.appendChild(svgEl("circle", {
          "class": "dot " + s.cls, cx: c[0].toFixed(1), cy: c[1].toFixed(1), r: 2.5,
          "data-series": s.cls, "data-start": points[i].start, "data-value": s.value(points[i])
        }));
      });
      svg.appendChild(svgEl("text", { "class": "legend label " + s.cls, x: f.x + 8 + si * 48, y: f.y + 10 }, s.cls));
    });
  }

  // ---- sections -------------------------------------------------------------

  function renderSummary(s) {
    var scored = isNum(s.health_score);
    var score = scored ? Math.round(s.health_score * 10) / 10 : null;
    setText("health-score", scored ? String(score) : NO_DATA, { score: scored ? s.health_score : "" });
    $("health-unit").hidden = !scored;
    var statusText = s.status === "no_data" ? NO_DATA : s.status;
    setText("health-status", statusText, { status: s.status });
    var bar = $("health-bar");
    bar.style.width = (scored ? Math.max(0, Math.min(100, s.health_score)) : 0) + "%";
    bar.style.background = s.status === "healthy" ? "var(--good)" : s.status === "degraded" ? "var(--warn)" : "var(--bad)";
    var cap = $("health-cap");
    if (s.capped_by) {
      var c = s.capped_by;
      cap.textContent = "held at " + c.status + " by open " + c.severity + " alert #" + c.alert_id + " (" + c.type + " " + c.key + ")";
      cap.setAttribute("data-alert-id", String(c.alert_id));
      cap.hidden = false;
    } else {
      cap.textContent = "";
      cap.setAttribute("data-alert-id", "");
      cap.hidden = true;
    }
    var k = s.key_metrics;
    var none = !(k.total_requests > 0);
    setText("summary-avg", none ? NO_DATA : ms(k.avg_response_time), { value: isNum(k.avg_response_time) ? k.avg_response_time : "" });
    setText("summary-error-rate", none ? NO_DATA : pct(k.error_rate), { value: isNum(k.error_rate) ? k.error_rate : "" });
    setText("summary-client-error-rate", none ? NO_DATA : pct(k.client_error_rate),
      { value: isNum(k.client_error_rate) ? k.client_error_rate : "" });
    setText("summary-alerts", String(s.active_alerts), { value: s.active_alerts });
    fillTable("health-components", null, s.components || [], function (tr, c) {
      tr.setAttribute("data-name", c.name);
      tr.setAttribute("data-score", isNum(c.score) ? c.score : "");
      tr.setAttribute("data-weight", c.weight);
      tr.setAttribute("data-endpoint", c.endpoint || "");
      tr.setAttribute("data-value", isNum(c.value) ? c.value : "");
      tr.setAttribute("data-threshold", isNum(c.threshold) ? c.threshold : "");
      cell(tr, c.name.replace("_", " "));
      cell(tr, isNum(c.score) ? c.score.toFixed(0) : "–", "num");
      cell(tr, Math.round(c.weight * 100) + " %", "num");
      var input = INPUT_LABELS[c.input] || c.input.replace(/_/g, " ");
      var text = !isNum(c.value) ? NO_DATA
        : input + " " + inUnit(c.value, c.unit) + " vs " + inUnit(c.threshold, c.unit) +
          (c.endpoint ? " on " + c.endpoint + " (" + num(c.events) + " req)" : "");
      cell(tr, text, "input");
    });
    $("health-components").hidden = false;
  }

  function renderMetrics(m) {
    var r = m.requests;
    var label = "last " + m.period_minutes + " min";
    Array.prototype.forEach.call(document.querySelectorAll(".window-label"), function (el) { el.textContent = label; });
    body.setAttribute("data-window", String(m.period_minutes));
    var none = !(r.total_requests > 0);
    setText("metric-total-requests", num(r.total_requests), { value: r.total_requests });
    setText("metric-percentiles", none ? NO_DATA : ms(r.p50_response_time) + " / " + ms(r.p95_response_time) + " / " + ms(r.p99_response_time),
      { p50: none ? "" : r.p50_response_time, p95: none ? "" : r.p95_response_time, p99: none ? "" : r.p99_response_time });
    setText("metric-error-rate", none ? NO_DATA : num(r.error_count) + " (" + pct(r.error_rate) + ")",
      { value: none ? "" : r.error_rate, count: r.error_count });
    setText("metric-client-errors", none ? NO_DATA : num(r.client_error_count) + " (" + pct(r.client_error_rate) + ")",
      { value: none ? "" : r.client_error_rate, count: r.client_error_count });
    setText("metric-slow", none ? NO_DATA : num(r.slow_request_count), { value: r.slow_request_count });
    setText("metric-queries", num(m.database.total_queries), { value: m.database.total_queries });
    setText("metric-slow-queries", m.database.total_queries > 0 ? num(m.database.slow_query_count) : NO_DATA,
      { value: m.database.slow_query_count });
    var mem = m.memory, sampled = mem.sampled === true;
    var notSampled = "not sampled";
    setText("memory-current", sampled ? mb(mem.current_memory_mb) : notSampled,
      { mb: sampled ? mem.current_memory_mb : "", sampled: sampled });
    setText("memory-max", sampled ? mb(mem.max_memory_mb) : notSampled, { mb: sampled ? mem.max_memory_mb : "" });
    setText("cpu-current", m.cpu.sampled ? cpu(m.cpu.current_percent) : notSampled,
      { percent: m.cpu.sampled ? m.cpu.current_percent : "" });
    setText("cpu-avg", m.cpu.sampled ? cpu(m.cpu.avg_percent) : notSampled, { percent: m.cpu.sampled ? m.cpu.avg_percent : "" });
    // The cache card's counts are the window's; its tier and entries come from cache/stats (now).
    var c = m.cache;
    var lookups = c.hits + c.misses;
    if (!c.configured) {
      setText("cache-hit-rate", "no cache", { "hit-rate": "", state: "none" });
      setText("cache-hits", "no cache", { value: "" });
      setText("cache-misses", "no cache", { value: "" });
    } else {
      setText("cache-hit-rate", lookups > 0 ? pct(c.hit_rate) : "no lookups yet",
        { "hit-rate": lookups > 0 ? c.hit_rate : "", state: lookups > 0 ? "ok" : "empty" });
      setText("cache-hits", num(c.hits), { value: c.hits });
      setText("cache-misses", num(c.misses), { value: c.misses });
    }
  }

  function renderCache(c) {
    if (!c.configured) {
      setText("cache-tier", "no cache", { tier: "none" });
      setText("cache-entries", "no cache", { value: "" });
      setText("cache-redis", "no cache", { state: "none" });
      return;
    }
    setText("cache-tier", c.serving_tier, { tier: c.serving_tier });
    var entries = c.memory && c.memory.entries;
    setText("cache-entries", entries === null || entries === undefined ? "–" : num(entries), { value: entries === null ? "" : entries });
    if (c.redis) {
      var state = c.redis.available ? "up (breaker " + c.redis.breaker + ")" : "down (breaker " + c.redis.breaker + ")";
      setText("cache-redis", state, { state: c.redis.available ? "up" : "down", breaker: c.redis.breaker });
    } else {
      setText("cache-redis", "not configured", { state: "none" });
    }
  }

  function renderAlerts(body) {
    var open = body.alerts.filter(function (a) { return !a.resolved; });
    setText("alerts-count", String(open.length), { count: open.length });
    fillTable("alerts-table", "alerts-empty", open, function (tr, a) {
      tr.setAttribute("data-alert-id", a.id);
      tr.setAttribute("data-severity", a.severity);
      tr.setAttribute("data-type", a.type);
      tr.setAttribute("data-key", a.key);
      tr.setAttribute("data-reopened", a.reopened ? "true" : "false");
      tr.setAttribute("data-reopens", a.reopens === null || a.reopens === undefined ? "" : a.reopens);
      tr.setAttribute("data-value", a.value);
      cell(tr, a.severity, "sev sev-" + a.severity);
      var typeCell = cell(tr, a.type);
      if (a.reopened) {
        var tag = document.createElement("span");
        tag.className = "reopened";
        tag.textContent = "re-opened" + (a.reopens ? " (was #" + a.reopens + ")" : "");
        typeCell.appendChild(document.createTextNode(" "));
        typeCell.appendChild(tag);
      }
      cell(tr, a.key, "code");
      cell(tr, a.message);
      var unit = alertUnit(a.type);
      cell(tr, inUnit(a.value, unit), "num value");
      cell(tr, inUnit(a.threshold, unit), "num");
      cell(tr, time(a.created_at));
      var td = document.createElement("td");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "resolve";
      button.textContent = "Resolve";
      button.setAttribute("data-alert-id", a.id);
      button.addEventListener("click", function () { resolveAlert(a.id, button); });
      td.appendChild(button);
      tr.appendChild(td);
    });
  }

  function resolveAlert(id, button) {
    if (!token() && askToken("Resolving an alert needs the PERFORMANCE_API_TOKEN:") === null) { return; }
    button.disabled = true;
    api("/alerts/" + encodeURIComponent(id) + "/resolve", { method: "POST" }).then(function () {
      status("Alert " + id + " resolved", "ok");
      refresh();
    }, function (err) {
      button.disabled = false;
      if (err.status === 401) {
        try { window.sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
        status("The token was refused; try again", "error");
      } else if (err.status === 403 && err.code === "read_only_token") {
        // The stored token is the read-only one: ask for the API token, keep
        // it (it grants reads too) and try once more.
        if (askToken("Resolving an alert needs the PERFORMANCE_API_TOKEN (the stored token only reads):") !== null) {
          resolveAlert(id, button);
        } else {
          status("Resolving alerts needs the PERFORMANCE_API_TOKEN; the stored token only reads", "error");
        }
      } else if (err.status === 403) {
        status(err.message || "Resolving alerts needs PERFORMANCE_API_TOKEN to be configured on the service", "error");
      } else {
        status("Could not resolve alert " + id + ": " + err.message, "error");
      }
    });
  }

  // A trace id as its own cell ("none" when the request had no trace).
  function traceCell(tr, traceId) {
    tr.setAttribute("data-trace-id", traceId || "");
    cell(tr, traceId || "none", "code");
  }

  function renderEndpoints(body) {
    fillTable("slow-requests-table", "slow-requests-empty", body.slow_requests, function (tr, r) {
      tr.setAttribute("data-route", r.route);
      tr.setAttribute("data-duration", r.duration);
      cell(tr, r.method);
      cell(tr, r.route, "code");
      cell(tr, String(r.status), "num");
      cell(tr, ms(r.duration), "num");
      cell(tr, time(r.timestamp));
      traceCell(tr, r.trace_id);
    });
    var rows = body.endpoints.slice().sort(function (a, b) { return b.count - a.count || (a.route < b.route ? -1 : 1); });
    fillTable("endpoints-table", "endpoints-empty", rows, function (tr, e) {
      tr.setAttribute("data-method", e.method);
      tr.setAttribute("data-route", e.route);
      tr.setAttribute("data-count", e.count);
      tr.setAttribute("data-p50", e.p50);
      tr.setAttribute("data-p95", e.p95);
      tr.setAttribute("data-p99", e.p99);
      tr.setAttribute("data-error-rate", e.error_rate);
      tr.setAttribute("data-error-count", e.error_count);
      tr.setAttribute("data-client-error-count", e.client_error_count);
      cell(tr, e.method);
      cell(tr, e.route, "code");
      cell(tr, num(e.count), "num");
      cell(tr, ms(e.avg), "num");
      cell(tr, ms(e.p50), "num");
      cell(tr, ms(e.p95), "num");
      cell(tr, ms(e.p99), "num");
      cell(tr, ms(e.max), "num");
      cell(tr, num(e.error_count) + " (" + pct(e.error_rate) + ")", "num");
      cell(tr, num(e.client_error_count) + " (" + pct(e.client_error_rate) + ")", "num");
      cell(tr, num(e.slow_count), "num");
      cell(tr, e.queries_per_request.toFixed(1), "num");
    });
  }

  // A captured plan in a few words: the tables read in full under a filter
  // (the evidence for a missing index), else the indexes read, else the
  // root node; the backend's own plan text is the cell's tooltip.
  function planSummary(captured) {
    if (!captured) { return "not captured"; }
    var nodes = captured.plan.nodes;
    var seen = {};
    var scans = [];
    var indexes = [];
    nodes.forEach(function (n) {
      if (n.access === "full_scan" && n.filtered && n.relation && !seen[n.relation]) {
        seen[n.relation] = true;
        scans.push(n.relation);
      } else if (n.access === "index_scan") {
        indexes.push(n.index || n.relation || n.operation);
      }
    });
    if (scans.length) { return "full scan of " + scans.join(", ") + " under a filter"; }
    if (indexes.length) { return "index: " + indexes.join(", "); }
    return nodes.length ? nodes[0].operation : "empty plan";
  }

  function planCell(tr, captured) {
    var summary = planSummary(captured);
    tr.setAttribute("data-plan", summary);
    var td = cell(tr, summary);
    if (captured) { td.title = captured.plan.text; }
  }

  function renderQueries(body) {
    var plans = {};
    body.top_queries.concat(body.background_queries).forEach(function (q) {
      if (q.plan) { plans[q.fingerprint] = q.plan; }
    });
    fillTable("n-plus-one-table", "n-plus-one-empty", body.n_plus_one, function (tr, n) {
      tr.setAttribute("data-route", n.route);
      tr.setAttribute("data-fingerprint", n.fingerprint);
      tr.setAttribute("data-requests", n.requests);
      tr.setAttribute("data-typical-count", n.typical_count);
      tr.setAttribute("data-max-count", n.max_count);
      cell(tr, n.route, "code");
      cell(tr, n.fingerprint, "code");
      cell(tr, n.typical_count + " / " + n.max_count, "num");
      cell(tr, num(n.requests), "num");
      cell(tr, ms(n.time_per_request), "num");
      cell(tr, time(n.first_seen));
      cell(tr, time(n.last_seen));
      traceCell(tr, n.trace_id);
    });
    fillTable("slow-queries-table", "slow-queries-empty", body.slow_queries, function (tr, q) {
      tr.setAttribute("data-fingerprint", q.fingerprint);
      tr.setAttribute("data-route", q.route || "");
      tr.setAttribute("data-duration", q.duration);
      cell(tr, q.route || "background", "code");
      cell(tr, q.sql, "code");
      cell(tr, ms(q.duration), "num");
      cell(tr, q.ok ? "ok" : "failed");
      cell(tr, time(q.timestamp));
      planCell(tr, plans[q.fingerprint]);
      traceCell(tr, q.trace_id);
    });
    fillTable("top-queries-table", "top-queries-empty", body.top_queries, function (tr, q) {
      tr.setAttribute("data-fingerprint", q.fingerprint);
      tr.setAttribute("data-count", q.count);
      cell(tr, q.fingerprint, "code");
      cell(tr, num(q.count), "num");
      cell(tr, ms(q.total_time), "num");
      cell(tr, ms(q.avg), "num");
      cell(tr, ms(q.p95), "num");
      cell(tr, num(q.error_count), "num");
      planCell(tr, q.plan);
    });
    fillTable("background-queries-table", "background-queries-empty", body.background_queries, function (tr, q) {
      tr.setAttribute("data-fingerprint", q.fingerprint);
      tr.setAttribute("data-count", q.count);
      tr.setAttribute("data-kind", q.kind);
      cell(tr, q.fingerprint, "code");
      cell(tr, q.kind);
      cell(tr, num(q.count), "num");
      cell(tr, ms(q.total_time), "num");
      cell(tr, ms(q.avg), "num");
      cell(tr, ms(q.p95), "num");
      cell(tr, num(q.error_count), "num");
    });
  }

  // An empty chart says so instead of drawing a flat line at zero.
  function emptyChart(svg, text) {
    clear(svg);
    var vb = svg.viewBox.baseVal;
    svg.appendChild(svgEl("text", { "class": "empty-label", x: vb.width / 2, y: vb.height / 2, "text-anchor": "middle" }, text));
    svg.setAttribute("data-empty", "true");
  }

  function renderRequestSeries(body) {
    var points = body.points;
    var total = 0, errors = 0;
    points.forEach(function (p) { total += p.count; errors += p.errors; });
    var rate = $("chart-requests");
    var err = $("chart-errors");
    if (total === 0) {
      emptyChart(rate, NO_DATA);
      emptyChart(err, NO_DATA);
    } else {
      barChart(rate, points, function (p) { return p.width > 0 ? p.count / p.width : 0; },
        function (v) { return v.toFixed(v < 10 ? 1 : 0); });
      lineChart(err, points, [{ cls: "errors", value: function (p) { return p.count ? 100 * p.errors / p.count : 0; } }],
        function (v) { return v.toFixed(0) + "%"; });
      rate.setAttribute("data-empty", "false");
      err.setAttribute("data-empty", "false");
    }
    rate.setAttribute("data-total", String(total));
    rate.setAttribute("data-points", String(total === 0 ? 0 : points.length));
    err.setAttribute("data-errors", String(errors));
    err.setAttribute("data-points", String(total === 0 ? 0 : points.length));
  }

  function renderLatencySeries(body) {
    // Roll-up buckets carry percentiles; show the last 60 of the window that have any.
    var points = body.points.filter(function (p) { return p.has_percentiles; }).slice(-60);
    var svg = $("chart-latency");
    if (!points.length) {
      emptyChart(svg, NO_DATA);
      svg.setAttribute("data-points", "0");
      svg.setAttribute("data-total", "0");
      return;
    }
    svg.setAttribute("data-empty", "false");
    lineChart(svg, points, [
      { cls: "p50", value: function (p) { return p.p50 * 1000; } },
      { cls: "p95", value: function (p) { return p.p95 * 1000; } },
      { cls: "p99", value: function (p) { return p.p99 * 1000; } }
    ], function (v) { return v.toFixed(v < 10 ? 1 : 0); });
    var count = 0;
    points.forEach(function (p) { count += p.count; });
    svg.setAttribute("data-points", String(points.length));
    svg.setAttribute("data-total", String(count));
  }

  function renderSystemSeries(body) {
    var points = body.points.filter(function (p) { return p.samples > 0; });
    var svg = $("chart-system");
    if (!points.length) {
      emptyChart(svg, "not sampled");
      svg.setAttribute("data-points", "0");
      return;
    }
    svg.setAttribute("data-empty", "false");
    lineChart(svg, points, [{ cls: "memory", value: function (p) { return p.rss_mb; } }],
      function (v) { return v.toFixed(0); });
    svg.setAttribute("data-points", String(points.length));
  }

  // ---- refresh loop -----------------------------------------------------------

  function status(text, state) { setText("status-line", text, { state: state }); }

  function refresh() {
    // One window for every card and chart; open alerts and the cache's tier are "now".
    var w = "minutes=" + windowMinutes;
    var jobs = [
      api("/summary?" + w).then(renderSummary),
      api("/metrics?" + w).then(renderMetrics),
      api("/cache/stats").then(renderCache),
      api("/alerts?resolved=false").then(renderAlerts),
      api("/endpoints?" + w).then(renderEndpoints),
      api("/queries?" + w).then(renderQueries),
      api("/timeseries?metric=requests&" + w).then(renderRequestSeries),
      // Roll-up buckets (1 minute) carry percentiles.
      api("/timeseries?metric=requests&resolution=rollup&" + w).then(renderLatencySeries),
      api("/timeseries?metric=system&" + w).then(renderSystemSeries)
    ];
    var settled = jobs.map(function (p) {
      return p.then(function () { return null; }, function (e) { return e; });
    });
    return Promise.all(settled).then(function (errors) {
      var failed = errors.filter(function (e) { return e; });
      refreshes += 1;
      body.setAttribute("data-refreshes", String(refreshes));
      var now = new Date();
      setText("updated-at", now.toLocaleTimeString(), { time: now.toISOString() });
      var unauthorized = failed.some(function (e) { return e.status === 401; });
      // Production with no token configured: the API says which variables to set.
      var unconfigured = failed.filter(function (e) { return e.code === "token_not_configured"; })[0];
      var analyticsOff = failed.length > 0 && failed.every(function (e) { return e.status === 501; });
      if (unconfigured) {
        status(unconfigured.message, "error");
      } else if (unauthorized) {
        status("This service needs an API token: use the API token button", "error");
      } else if (failed.length && !analyticsOff) {
        status("Some panels failed to load: " + failed[0].message, "error");
      } else {
        status("Live", "ok");
        body.setAttribute("data-loaded", "true");
      }
    });
  }

  function start() {
    $("refresh-seconds").textContent = String(REFRESH_MS / 1000);
    $("token-button").addEventListener("click", function () {
      if (askToken() !== null) { refresh(); }
    });
    $("window-select").addEventListener("change", function (e) {
      windowMinutes = parseInt(e.target.value, 10) || 5;
      refresh();
    });
    if (tokenRequired && !token()) {
      status("This service needs an API token: use the API token button", "error");
    }
    refresh();
    window.setInterval(refresh, REFRESH_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
