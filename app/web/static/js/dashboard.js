/*
 * Model Router dashboard: draws the charts of the current page and refreshes them, the tiles
 * ([data-field]) and the live tables (tbody[data-rows]) from the page's JSON endpoint
 * (main[data-source]) every data-refresh-ms. Served from 'self' under a CSP without
 * 'unsafe-inline': no inline script, no eval, and data only ever enters the DOM as textContent.
 */
(function () {
  "use strict";

  var MISSING = "\u2013";
  var PALETTE = ["#4e9af1", "#f1a34e", "#5ec48a", "#e0607e", "#a98bf0", "#4fd1d9", "#d9c74f",
                 "#8c9bb0", "#f07c4e", "#7bd94f"];
  var main = document.getElementById("page");
  if (!main || !main.dataset.source) { return; }
  var source = main.dataset.source;
  var refreshMs = Math.max(1000, parseInt(main.dataset.refreshMs || "5000", 10));
  var statusEl = document.getElementById("refresh-status");
  var charts = {};
  var firstCounts = null;
  var refreshes = 0;

  /* ---- formatting (same rules as app/web/formatting.py) ---------------------------------- */

  function num(v) { return typeof v === "number" ? v : parseFloat(v); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function parseTime(v) {
    var s = String(v);
    if (!/[zZ]|[+-]\d\d:\d\d$/.test(s)) { s += "Z"; }  // the server's times are UTC
    return new Date(s.replace(" ", "T"));
  }
  function hhmm(v) { var d = parseTime(v); return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()); }
  var FORMATS = {
    text: function (v) { return String(v); },
    badge: function (v) { return String(v); },
    num: function (v) { return String(v); },
    "int": function (v) { return Math.round(num(v)).toLocaleString("en-US"); },
    num1: function (v) { return num(v).toLocaleString("en-US", {minimumFractionDigits: 1, maximumFractionDigits: 1}); },
    num2: function (v) { return num(v).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}); },
    num3: function (v) { return num(v).toLocaleString("en-US", {minimumFractionDigits: 3, maximumFractionDigits: 3}); },
    pct: function (v) { return (num(v) * 100).toFixed(1) + " %"; },
    pctpoints: function (v) { var p = num(v); return (p >= 0 ? "+" : "") + p.toFixed(1) + " %"; },
    ms: function (v) {
      var ms = num(v);
      return ms >= 10000 ? (ms / 1000).toFixed(2) + " s" : Math.round(ms).toLocaleString("en-US") + " ms";
    },
    time: function (v) {
      var d = parseTime(v);
      return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    },
    datetime: function (v) {
      var d = parseTime(v);
      return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
        FORMATS.time(v);
    }
  };
  function fmt(value, kind) {
    if (value === null || value === undefined || value === "") { return MISSING; }
    var f = FORMATS[kind] || FORMATS.text;
    var out = f(value);
    return out === "NaN" || out.indexOf("NaN") === 0 ? String(value) : out;
  }
  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }
  function badge(value) {
    var span = document.createElement("span");
    var text = value === null || value === undefined ? MISSING : String(value);
    span.className = "badge badge-" + text.toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
    span.textContent = text;
    return span;
  }

  /* ---- chart definitions: payload -> {type, data, options} ------------------------------- */

  function color(i) { return PALETTE[i % PALETTE.length]; }
  // Lines skip the gaps of minutes or hours without traffic; a value with no neighbour would
  // draw nothing, so it gets a dot.
  function isolatedPointRadius(ctx) {
    var data = ctx.dataset.data;
    var i = ctx.dataIndex;
    var lonely = (i === 0 || data[i - 1] == null) && (i === data.length - 1 || data[i + 1] == null);
    return lonely && data[i] != null ? 3 : 0;
  }
  function line(label, values, i, extra) {
    var ds = {label: label, data: values, borderColor: color(i), backgroundColor: color(i) + "33",
              pointRadius: isolatedPointRadius, pointHoverRadius: 4, borderWidth: 2,
              pointBackgroundColor: color(i),
              tension: 0.25, spanGaps: false};
    return Object.assign(ds, extra || {});
  }
  function pctValues(values) { return values.map(function (v) { return v == null ? null : +(v * 100).toFixed(2); }); }
  function axis(title, extra) {
    return Object.assign({beginAtZero: true, title: {display: !!title, text: title}}, extra || {});
  }
  function timeOptions(yTitle, yExtra, legend) {
    return {scales: {x: {ticks: {maxTicksLimit: 12, autoSkip: true}}, y: axis(yTitle, yExtra)},
            plugins: {legend: {display: !!legend}}};
  }
  var percentile = "p95_ms";

  var CHARTS = {
    requests: function (d) {
      var s = d.series;
      return {type: "bar", data: {labels: s.labels.map(hhmm), datasets: [
        {label: "requests / min", data: s.requests_per_min, backgroundColor: color(0)}]},
        options: timeOptions("requests / min")};
    },
    success: function (d) {
      var s = d.series;
      return {type: "line", data: {labels: s.labels.map(hhmm), datasets: [
        line("success rate %", pctValues(s.success_rate), 2, {fill: true})]},
        options: timeOptions("%", {beginAtZero: false, suggestedMin: 80, max: 100})};
    },
    latency: function (d) {
      var s = d.series;
      return {type: "line", data: {labels: s.labels.map(hhmm), datasets: [
        line("p50", s.p50_ms, 0), line("p95", s.p95_ms, 1), line("p99", s.p99_ms, 3)]},
        options: timeOptions("ms", null, true)};
    },
    cache: function (d) {
      var s = d.series;
      return {type: "line", data: {labels: s.labels.map(hhmm), datasets: [
        line("cache hit rate %", pctValues(s.cache_hit_rate), 5, {fill: true})]},
        options: timeOptions("%", {max: 100})};
    },
    "model-latency": function (d) {
      var lat = d.latency;
      var ids = Object.keys(lat.series);
      return {type: "line", data: {labels: lat.labels.map(hhmm), datasets: ids.map(function (id, i) {
        return line(id, lat.series[id][percentile], i);
      })}, options: timeOptions("ms", null, true)};
    },
    "model-share": function (d) {
      var ms = d.models.filter(function (m) { return m.requests > 0; });
      return {type: "doughnut", data: {labels: ms.map(function (m) { return m.model_id; }), datasets: [{
        data: ms.map(function (m) { return m.requests; }),
        backgroundColor: ms.map(function (m, i) { return color(i); }), borderWidth: 1}]},
        options: {plugins: {legend: {position: "right"}}}};
    },
    "model-success": function (d) {
      var ms = d.models.filter(function (m) { return m.success_rate != null; });
      return {type: "bar", data: {labels: ms.map(function (m) { return m.model_id; }), datasets: [{
        label: "success rate %", data: pctValues(ms.map(function (m) { return m.success_rate; })),
        backgroundColor: ms.map(function (m, i) { return color(i); })}]},
        options: {indexAxis: "y", scales: {x: axis("%", {max: 100})}, plugins: {legend: {display: false}}}};
    },
    "model-utilization": function (d) {
      var ms = d.models.filter(function (m) { return m.utilization != null; });
      return {type: "bar", data: {labels: ms.map(function (m) { return m.model_id; }), datasets: [{
        label: "utilization %", data: pctValues(ms.map(function (m) { return m.utilization; })),
        backgroundColor: ms.map(function (m, i) { return color(i); })}]},
        options: {indexAxis: "y", scales: {x: axis("%", {suggestedMax: 100})}, plugins: {legend: {display: false}}}};
    },
    runs: function (d) {
      var runs = d.runs;
      return {type: "bar", data: {labels: runs.map(function (r) { return hhmm(r.created_at) + " " + r.method; }), datasets: [
        {label: "optimal (Hungarian)", data: runs.map(function (r) { return r.total_score; }), backgroundColor: color(0)},
        {label: "greedy baseline", data: runs.map(function (r) { return r.greedy_total_score; }), backgroundColor: color(1)}]},
        options: {scales: {y: axis("total score")}, plugins: {legend: {display: true}}}};
    },
    "assigned-scores": function (d) {
      var a = d.active;
      return {type: "bar", data: {labels: a.map(function (x) { return x.agent_id + " \u2192 " + x.model_id; }), datasets: [{
        label: "score", data: a.map(function (x) { return x.score; }),
        backgroundColor: a.map(function (x, i) { return color(i); })}]},
        options: {indexAxis: "y", scales: {x: axis("score", {max: 1})}, plugins: {legend: {display: false}}}};
    }
  };

  function hasData(config) {
    return config.data.datasets.some(function (ds) {
      return ds.data.some(function (v) { return v !== null && v !== undefined; });
    });
  }

  function drawCharts(payload) {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var name = canvas.dataset.chart;
      var build = CHARTS[name];
      if (!build) { return; }
      var config = build(payload);
      var empty = document.querySelector("[data-empty-for='" + name + "']");
      if (empty) { empty.hidden = hasData(config); }
      var chart = charts[name];
      if (chart && chart.config.type === config.type) {
        chart.data = config.data;
        chart.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false}, config.options);
        chart.update("none");
      } else {
        if (chart) { chart.destroy(); }
        config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false}, config.options);
        charts[name] = new window.Chart(canvas, config);
      }
    });
  }

  /* ---- tiles and live tables -------------------------------------------------------------- */

  function fillFields(payload) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-field]"), function (el) {
      var value = get(payload, el.dataset.field);
      if (value === undefined) { return; }
      if (el.dataset.format === "badge") {
        el.replaceChildren(badge(value));
      } else {
        el.textContent = fmt(value, el.dataset.format || "text");
      }
    });
  }

  function fillTables(payload) {
    Array.prototype.forEach.call(document.querySelectorAll("tbody[data-rows]"), function (tbody) {
      var rows = get(payload, tbody.dataset.rows);
      if (!Array.isArray(rows)) { return; }
      var columns = tbody.dataset.columns.split(",").map(function (c) {
        var parts = c.split(":");
        return {key: parts[0], format: parts[1] || "text"};
      });
      var fresh = rows.map(function (row) {
        var tr = document.createElement("tr");
        columns.forEach(function (col) {
          var td = document.createElement("td");
          var value = row[col.key];
          if (col.format === "badge") { td.appendChild(badge(value)); }
          else { td.textContent = fmt(value, col.format); }
          if (["num", "int", "num1", "num2", "num3", "pct", "ms"].indexOf(col.format) >= 0) { td.className = "num"; }
          tr.appendChild(td);
        });
        return tr;
      });
      if (!fresh.length) {
        var tr = document.createElement("tr");
        var td = document.createElement("td");
        tr.className = "empty";
        td.colSpan = columns.length;
        td.textContent = tbody.dataset.empty || "None.";
        tr.appendChild(td);
        fresh.push(tr);
      }
      tbody.replaceChildren.apply(tbody, fresh);
    });
  }

  function noteChangedCounts(payload) {
    var notice = document.getElementById("alerts-changed");
    if (!notice || !payload.counts) { return; }
    var counts = JSON.stringify(payload.counts);
    if (firstCounts === null) { firstCounts = counts; }
    notice.hidden = counts === firstCounts;
  }

  /* ---- refresh loop ----------------------------------------------------------------------- */

  function setStatus(text, failed) {
    if (!statusEl) { return; }
    statusEl.textContent = text;
    statusEl.classList.toggle("failed", !!failed);
  }

  var latest = null;
  function refresh() {
    return fetch(source, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
          throw new Error("session ended");
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (payload) {
        latest = payload;
        drawCharts(payload);
        fillFields(payload);
        fillTables(payload);
        noteChangedCounts(payload);
        refreshes += 1;
        document.body.dataset.refreshes = String(refreshes);
        setStatus("updated " + FORMATS.time(new Date().toISOString()) + " UTC", false);
      })
      .catch(function (err) { setStatus("refresh failed: " + err.message, true); });
  }

  var control = document.querySelector("[data-control='percentile']");
  if (control) {
    percentile = control.value;
    control.addEventListener("change", function () {
      percentile = control.value;
      if (latest) { drawCharts(latest); }
    });
  }

  if (window.Chart) {
    window.Chart.defaults.color = "#aab4c3";
    window.Chart.defaults.borderColor = "rgba(170, 180, 195, 0.15)";
    window.Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', sans-serif";
  }
  refresh();
  window.setInterval(function () { if (!document.hidden) { refresh(); } }, refreshMs);
}());
