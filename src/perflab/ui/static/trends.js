// Trends: a click on a point opens that run (its id travels as the point's customdata).
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";
  function wire() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-figure]"), function (node) {
      if (!node.on) { return; }
      node.on("plotly_click", function (event) {
        var id = event && event.points && event.points[0] && event.points[0].customdata;
        if (id) { window.location.href = root + "/runs/" + encodeURIComponent(id); }
      });
    });
  }
  var tries = 0;
  var timer = setInterval(function () {
    tries += 1;
    if (document.body.classList.contains("charts-ready") || tries > 50) { clearInterval(timer); wire(); }
  }, 100);
})();
