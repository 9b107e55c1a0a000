// The live page: one Server-Sent Event per second from /api/live/stream. The first event of a
// run carries every point so far, later ones only the new seconds; "end" closes the stream.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.EventSource) { return; }
  var root = box.getAttribute("data-root") || "";
  var config = { displaylogo: false, responsive: true, displayModeBar: false };
  var runId = null;
  var points = [];
  var drawn = false;
  var lastEvent = 0;

  function $(id) { return document.getElementById(id); }
  function fmtMs(v) {
    if (v === null || v === undefined) { return "-"; }
    if (v >= 1000) { return (v / 1000).toFixed(2) + " s"; }
    if (v >= 100) { return v.toFixed(0) + " ms"; }
    if (v >= 10) { return v.toFixed(1) + " ms"; }
    return v.toFixed(2) + " ms";
  }
  function fmtInt(v) { return v === null || v === undefined ? "-" : Math.round(v).toLocaleString("en-US"); }
  function set(key, text) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-k=" + key + "]"), function (n) { n.textContent = text; });
  }
  function axis(title) { return { title: { text: title }, gridcolor: "#e5e7eb", rangemode: "tozero", zerolinecolor: "#e5e7eb" }; }
  function layout(title, y) {
    return {
      title: { text: title, x: 0.01, xanchor: "left", font: { size: 15 } }, height: 320,
      margin: { l: 60, r: 20, t: 44, b: 44 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      font: { family: "system-ui, sans-serif", size: 12, color: "#1f2937" },
      xaxis: { title: { text: "seconds since start" }, gridcolor: "#e5e7eb" }, yaxis: axis(y),
      legend: { orientation: "h", y: -0.2, x: 0 }, hovermode: "x unified", uirevision: "live"
    };
  }
  function col(key) { return points.map(function (p) { return p[key]; }); }
  function draw() {
    var t = col("t");
    var line = function (y, name, color, extra) {
      var trace = { type: "scatter", mode: "lines", x: t, y: y, name: name, line: { color: color, width: 1.8 } };
      for (var k in extra || {}) { trace[k] = extra[k]; }
      return trace;
    };
    var throughput = [
      line(col("rps"), "requests/s", "#2563eb", { fill: "tozeroy", fillcolor: "rgba(37,99,235,.08)" }),
      line(col("errors"), "errors/s", "#dc2626")
    ];
    var latency = [
      line(col("p50"), "p50", "#2563eb"), line(col("p99"), "p99", "#ea580c"), line(col("max"), "max", "#9ca3af", { line: { color: "#9ca3af", width: 1, dash: "dot" } })
    ];
    Plotly.react($("live-throughput"), throughput, layout("Throughput per second", "per second"), config);
    Plotly.react($("live-latency"), latency, layout("Latency per second (corrected)", "ms"), config);
    if (!drawn) { drawn = true; document.body.setAttribute("data-live-drawn", "1"); }
  }
  function names(rows) {
    var body = $("live-names");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      [r.name, fmtInt(r.requests), fmtInt(r.errors)].forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i === 0) { td.className = "name"; }
        if (i === 2 && r.errors) { td.className = "bad"; }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  function show(ev) {
    lastEvent = Date.now();
    if (!ev.run) { return; }
    if (ev.run.id !== runId) { runId = ev.run.id; points = []; }
    points = points.concat(ev.points || []);
    $("live-empty").hidden = true;
    $("live-body").hidden = false;
    $("live-title").textContent = ev.run.name || "run";
    var status = $("live-status");
    status.textContent = ev.active ? "running" : ev.run.status;
    status.className = "pill " + (ev.active ? "warn" : ev.run.status === "passed" ? "pass" : "fail");
    $("live-run").textContent = "id " + ev.run.id.slice(0, 12) + " · target " + (ev.run.target || "-") + " · started " + (ev.run.started_at || "?");
    var tot = ev.totals || {};
    var gen = ev.generator || {};
    var last = points.length ? points[points.length - 1] : {};
    set("requests", fmtInt(tot.requests));
    set("seconds", ev.seconds + " s");
    set("last_rps", fmtInt(last.rps));
    set("rps", tot.rps === null || tot.rps === undefined ? "-" : tot.rps.toFixed(1) + "/s");
    set("p50", fmtMs(tot.p50));
    set("p99", fmtMs(tot.p99));
    set("errors", fmtInt(tot.errors));
    set("error_rate", ((tot.error_rate || 0) * 100).toFixed(2) + " %");
    set("inflight", fmtInt(gen.inflight));
    set("connections", fmtInt(gen.connections) + " connections" + (gen.vus ? " · " + gen.vus + " VUs" : ""));
    set("cpu", gen.cpu_percent === undefined ? "-" : gen.cpu_percent.toFixed(0) + " %");
    set("lag", "scheduling lag p99 " + fmtMs(gen.sched_lag_p99_ms));
    names(ev.by_name || []);
    draw();
    if (!ev.active) {
      var done = $("live-done");
      done.hidden = false;
      done.textContent = "";
      done.appendChild(document.createTextNode("The run ended (" + ev.run.status + "). "));
      var a = document.createElement("a");
      a.href = root + "/runs/" + encodeURIComponent(ev.run.id);
      a.textContent = "Open its full report page →";
      done.appendChild(a);
    }
  }
  var source = new EventSource(box.getAttribute("data-stream"));
  source.onmessage = function (msg) {
    try { show(JSON.parse(msg.data)); } catch (err) { console.error("perflab: live event unreadable: " + err); }
  };
  source.addEventListener("end", function () { source.close(); });
  setInterval(function () {
    if (lastEvent) { $("live-updated").textContent = "updated " + ((Date.now() - lastEvent) / 1000).toFixed(0) + " s ago"; }
  }, 1000);
})();
