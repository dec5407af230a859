// charts.js — bar charts for the statistics screens, drawn by Chart.js
// (ui/vendor/chart.umd.min.js: Chart.js 4.5.1 from npm, unmodified, MIT;
// shipped with the UI, no CDN). Counts only: money is never charted, so
// no money figure goes through floating point.

import "./vendor/chart.umd.min.js";

const Chart = globalThis.Chart;

// A sober palette that stays apart in print and for common colour blindness.
export const COLORS = ["#1a56a0", "#d9822b", "#2e8540", "#a4161a", "#6b4c9a", "#1b998b", "#8a6d3b", "#c2185b", "#5b7083", "#9e9d24", "#00838f", "#6d4c41"];

if (Chart) {
  Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue("--font") || "sans-serif";
  Chart.defaults.font.size = 13;
  Chart.defaults.color = "#1a1f29";
  // Drawn at once: a chart is read, not watched.
  Chart.defaults.animation = false;
}

const charts = new Map();

/**
 * Draws a bar chart on `canvas` (replacing the one drawn there before).
 * `datasets`: [{label, data}] (counts); `stacked`: one bar per label with
 * the datasets stacked; `horizontal`: bars run left to right.
 */
export function barChart(canvas, labels, datasets, { stacked = false, horizontal = false, title = "" } = {}) {
  if (!Chart) {
    canvas.replaceWith(Object.assign(document.createElement("p"), { className: "empty", textContent: "图表组件加载失败，请查看下方表格" }));
    return null;
  }
  const old = charts.get(canvas);
  if (old) old.destroy();
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: datasets.map((d, i) => ({ ...d, backgroundColor: d.color || COLORS[i % COLORS.length], borderWidth: 0 })),
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: datasets.length > 1, position: "bottom" },
        title: { display: Boolean(title), text: title, font: { size: 15, weight: "bold" } },
        tooltip: { mode: "index", intersect: false },
      },
      scales: {
        x: { stacked, ticks: { autoSkip: true, maxRotation: 60 }, ...(horizontal ? { beginAtZero: true, ticks: { precision: 0 } } : {}) },
        y: { stacked, ...(horizontal ? {} : { beginAtZero: true, ticks: { precision: 0 } }) },
      },
    },
  });
  charts.set(canvas, chart);
  canvas.dataset.drawn = "true";
  return chart;
}
