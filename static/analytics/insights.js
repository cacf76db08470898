/* csbot insights: draws the dashboard's charts from the JSON the page carries (#insights-data).
 * Chart.js is vendored in static/analytics/vendor (see its README); nothing loads from elsewhere.
 * Every chart has its figures in a table next to it, for screen readers and for copying. */
(function () {
  "use strict";

  var source = document.getElementById("insights-data");
  if (!source || !window.Chart) {
    return;
  }
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  Chart.defaults.animation = reduceMotion ? false : { duration: 250 };
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#475467";
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  var integerTicks = { beginAtZero: true, ticks: { precision: 0 } };

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  function shortDay(iso) {
    // 2026-11-21 → 11-21: the year is in the period line above the charts.
    return iso.slice(5);
  }

  var days = data.days.map(shortDay);

  draw("chart-outcomes", {
    type: "bar",
    data: {
      labels: days,
      datasets: data.outcomes.map(function (outcome) {
        return { label: outcome.label, data: outcome.values, backgroundColor: outcome.colour };
      })
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: { x: { stacked: true }, y: Object.assign({ stacked: true }, integerTicks) }
    }
  });

  draw("chart-reasons", {
    type: "bar",
    data: {
      labels: data.reasons.labels,
      datasets: [{ label: "%", data: data.reasons.values, backgroundColor: "#f59e0b" }]
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, ticks: { callback: function (v) { return v + "%"; } } }
      }
    }
  });

  draw("chart-cost", {
    data: {
      labels: days,
      datasets: [
        {
          type: "bar",
          label: data.cost.label,
          data: data.cost.values,
          backgroundColor: "#93c5fd",
          yAxisID: "y"
        },
        {
          type: "line",
          label: data.cost.per_resolution_label,
          data: data.cost.per_resolution,
          borderColor: "#16a34a",
          backgroundColor: "#16a34a",
          spanGaps: true,
          yAxisID: "y1"
        }
      ]
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        y: { beginAtZero: true, position: "left" },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } }
      }
    }
  });

  draw("chart-csat", {
    type: "bar",
    data: {
      labels: data.csat.labels,
      datasets: [{
        label: data.csat.label,
        data: data.csat.values,
        backgroundColor: ["#dc2626", "#f97316", "#facc15", "#84cc16", "#16a34a"]
      }]
    },
    options: { plugins: { legend: { display: false } }, scales: { y: integerTicks } }
  });

  draw("chart-errors", {
    type: "bar",
    data: {
      labels: data.errors.labels,
      datasets: [{ label: data.errors.label, data: data.errors.values, backgroundColor: "#dc2626" }]
    },
    options: { plugins: { legend: { display: false } }, scales: { y: integerTicks } }
  });
})();
