(function () {
  "use strict";
  var body = document.body;
  var nodes = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
  var drawn = 0;
  var failed = 0;
  var config = {
    displaylogo: false,
    responsive: true,
    showLink: false,
    showSendToCloud: false,
    displayModeBar: "hover",
    modeBarButtonsToRemove: ["select2d", "lasso2d"],
    toImageButtonOptions: { format: "png", scale: 2 }
  };

  function fail(node, err) {
    failed += 1;
    node.classList.add("chart-error");
    node.textContent = "This chart could not be drawn: " + err;
    console.error("perflab: chart " + node.getAttribute("data-figure") + " failed: " + err);
  }

  function draw(figures, node) {
    var fig = figures[node.getAttribute("data-figure")];
    if (!fig) {
      fail(node, "no data for it in this report");
      return Promise.resolve();
    }
    try {
      return Promise.resolve(Plotly.newPlot(node, fig.data, fig.layout, config)).then(
        function () { drawn += 1; },
        function (err) { fail(node, err); }
      );
    } catch (err) {
      fail(node, err);
      return Promise.resolve();
    }
  }

  var figures = {};
  try {
    figures = JSON.parse(document.getElementById("perflab-figures").textContent);
  } catch (err) {
    console.error("perflab: figure data unreadable: " + err);
  }
  Promise.all(nodes.map(function (node) { return draw(figures, node); })).then(function () {
    body.setAttribute("data-rendered", String(drawn));
    body.setAttribute("data-failed", String(failed));
    body.classList.add(failed ? "charts-failed" : "charts-ready");
  });
})();
