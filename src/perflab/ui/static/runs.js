// The run list: enable "Compare selected" when exactly two runs are ticked, and reload when
// new runs are indexed (unless the reader is picking).
(function () {
  "use strict";
  var form = document.getElementById("pick");
  if (!form) { return; }
  var button = document.getElementById("compare-button");
  var hint = document.getElementById("pick-hint");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=run]"));

  function picked() { return boxes.filter(function (b) { return b.checked; }); }

  function refresh() {
    var n = picked().length;
    button.disabled = n !== 2;
    boxes.forEach(function (b) { b.closest("tr").classList.toggle("picked", b.checked); });
    hint.textContent = n === 2 ? "Ready: the older run is the base, the newer the candidate."
      : n > 2 ? "Pick only two runs." : "Tick two runs to compare them (the older one is the base).";
  }
  boxes.forEach(function (b) { b.addEventListener("change", refresh); });
  refresh();

  var root = document.body.getAttribute("data-root") || "";
  var first = boxes.length ? boxes[0].value : "";
  setInterval(function () {
    if (picked().length || document.hidden) { return; }
    var params = new URLSearchParams(window.location.search);
    params.set("limit", "1");
    fetch(root + "/api/runs?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        var newest = data && data.runs && data.runs.length ? data.runs[0].id : "";
        if (newest && newest !== first) { window.location.reload(); }
      })
      .catch(function () { /* the next poll will tell */ });
  }, 5000);
})();
