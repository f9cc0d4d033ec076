// The "Stats" section: the caller's totals over the last 30 days and a chart of uploads and bytes per day
// (uPlot, bundled), from the `stats` query.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { gql, Q } from "./api.js";
import { formatSize } from "./ui.js";

const DAYS = 30;
const TOTALS = [
  ["uploads", "Uploads", String],
  ["bytes", "Bytes", formatSize],
  ["hashed", "Hashed", String],
  ["failed", "Failed", String],
  ["duplicates", "Duplicates", String],
  ["deleted", "Deleted", String],
];
let chart = null;

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function showTotals(stats) {
  const list = document.getElementById("stats-totals");
  list.replaceChildren();
  for (const [field, label, format] of TOTALS) {
    const term = document.createElement("dt");
    term.textContent = label;
    const value = document.createElement("dd");
    value.dataset.total = field;
    value.textContent = format(stats[field]);
    const pair = document.createElement("div");
    pair.append(term, value);
    list.append(pair);
  }
}

function showChart(days) {
  const container = document.getElementById("stats-chart");
  const times = days.map((day) => Date.parse(`${day.date}T00:00:00Z`) / 1000);
  const data = [times, days.map((day) => day.uploads), days.map((day) => day.bytes)];
  const width = Math.max(280, Math.min(container.clientWidth || 600, 860));
  if (chart) chart.destroy();
  const axis = { stroke: cssColour("--fg"), grid: { stroke: cssColour("--border"), width: 0.5 } };
  chart = new uPlot(
    {
      width,
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      series: [
        {},
        { label: "Uploads", scale: "n", stroke: cssColour("--accent"), width: 2, points: { show: true } },
        { label: "Bytes", scale: "b", stroke: cssColour("--warn"), width: 2, value: (u, v) => (v == null ? "" : formatSize(v)) },
      ],
      axes: [
        axis,
        { ...axis, scale: "n", label: "uploads" },
        { ...axis, scale: "b", side: 1, label: "bytes", values: (u, values) => values.map(formatSize), size: 70 },
      ],
      scales: { n: { range: (u, min, max) => [0, Math.max(1, max)] } },
    },
    data,
    container,
  );
  container.setAttribute("data-days", String(days.length));
}

export async function loadStats() {
  const status = document.getElementById("stats-status");
  try {
    const { stats } = await gql(Q.stats, { days: DAYS });
    status.textContent = `The last ${DAYS} days (UTC), this space only.`;
    showTotals(stats);
    document.getElementById("stats-figure").hidden = false;
    showChart(stats.days);
  } catch (error) {
    status.textContent = `Stats are not available: ${error.message}`;
    document.getElementById("stats-totals").replaceChildren();
    document.getElementById("stats-figure").hidden = true;
  }
}
