/* The contacts dashboard (admin/contacts/dashboard.html): asks the stats API with the admin's session and
 * draws what it answers with Chart.js. Every figure on the page is one the API answered; the charts hold
 * them unchanged (rates as fractions, formatted only on the axis and in the tooltips). */
"use strict";

(() => {
  const root = document.getElementById("dashboard");
  if (!root || typeof Chart === "undefined") {
    return;
  }
  const form = document.getElementById("dashboard-filters");
  const errorBox = document.getElementById("dashboard-error");
  const statusBox = document.getElementById("dashboard-status");
  const workersBody = document.querySelector("#dashboard-workers tbody");
  const statsUrl = root.dataset.statsUrl;
  const trendWorkersMax = Number(root.dataset.trendWorkersMax);
  const FILTERS = ["start_date", "end_date", "worker_id"];
  const COLORS = { contacts: "#79aec8", replied: "#417690", wechat: "#2e9e5b" };
  const numbers = new Intl.NumberFormat("zh-CN");

  class ApiError extends Error {}

  // The rate as a percentage with two decimals, from whole basis points (a rate has four places).
  const percent = (rate) => {
    const points = Math.round(rate * 10000);
    return `${Math.trunc(points / 100)}.${String(points % 100).padStart(2, "0")}%`;
  };
  const workerName = (key) => (key === "" ? "(未填)" : key);

  async function stats(params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value !== ""));
    let response;
    try {
      response = await fetch(`${statsUrl}?${query}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      throw new ApiError("无法连接统计接口");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok || !body || body.code !== 200) {
      throw new ApiError((body && body.msg) || `统计接口出错(HTTP ${response.status})`);
    }
    return body.data;
  }

  function filters() {
    return Object.fromEntries(FILTERS.map((name) => [name, form.elements[name].value]));
  }

  function setChoice(select, value) {
    if (![...select.options].some((option) => option.value === value)) {
      select.add(new Option(value, value));
    }
    select.value = value;
  }

  // The page's address holds its filters, so that a view can be linked and reloaded.
  function readAddress() {
    const params = new URLSearchParams(window.location.search);
    for (const name of ["start_date", "end_date"]) {
      if (params.get(name)) {
        form.elements[name].value = params.get(name);
      }
    }
    if (["day", "week", "month"].includes(params.get("group_by"))) {
      form.elements.group_by.value = params.get("group_by");
    }
    if (params.get("worker_id")) {
      setChoice(form.elements.worker_id, params.get("worker_id"));
    }
  }

  function writeAddress() {
    const params = new URLSearchParams({ ...filters(), group_by: form.elements.group_by.value });
    for (const [name, value] of [...params]) {
      if (value === "") {
        params.delete(name);
      }
    }
    window.history.replaceState(null, "", `?${params}`);
  }

  function styleCharts() {
    const style = getComputedStyle(document.documentElement);
    Chart.defaults.color = style.getPropertyValue("--body-quiet-color").trim() || Chart.defaults.color;
    Chart.defaults.borderColor = style.getPropertyValue("--hairline-color").trim() || Chart.defaults.borderColor;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.animation = false;
  }

  function countsChart() {
    const canvas = document.getElementById("chart-counts");
    const bar = (label, color, order, width) => ({
      label,
      data: [],
      backgroundColor: color,
      grouped: false,
      order,
      barPercentage: width,
      categoryPercentage: 0.9,
    });
    return (
      Chart.getChart(canvas) ||
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: [],
          datasets: [
            bar("联系", COLORS.contacts, 3, 0.9),
            bar("已回复", COLORS.replied, 2, 0.6),
            bar("交换微信", COLORS.wechat, 1, 0.3),
          ],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { position: "bottom", reverse: true } },
        },
      })
    );
  }

  function ratesChart() {
    const canvas = document.getElementById("chart-rates");
    const line = (label, color) => ({
      label,
      data: [],
      borderColor: color,
      backgroundColor: color,
      pointRadius: 2,
      spanGaps: false,
      tension: 0,
    });
    return (
      Chart.getChart(canvas) ||
      new Chart(canvas, {
        type: "line",
        data: { labels: [], datasets: [line("回复率", COLORS.replied), line("微信交换率", COLORS.wechat)] },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: { y: { min: 0, suggestedMax: 0.5, ticks: { callback: (value) => `${+(value * 100).toFixed(1)}%` } } },
          plugins: {
            legend: { position: "bottom" },
            tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${percent(item.parsed.y)}` } },
          },
        },
      })
    );
  }

  function drawSeries(results) {
    const labels = results.map((row) => row.key);
    const counts = countsChart();
    counts.data.labels = labels;
    counts.data.datasets[0].data = results.map((row) => row.contacts);
    counts.data.datasets[1].data = results.map((row) => row.replied);
    counts.data.datasets[2].data = results.map((row) => row.wechat_exchanged);
    counts.update();
    // A period without contacts has no rate: a gap in the line, not a fall to 0%.
    const rates = ratesChart();
    rates.data.labels = labels;
    rates.data.datasets[0].data = results.map((row) => (row.contacts ? row.reply_rate : null));
    rates.data.datasets[1].data = results.map((row) => (row.contacts ? row.wechat_rate : null));
    rates.update();
  }

  function drawTotals(totals) {
    for (const cell of root.querySelectorAll("[data-total]")) {
      const value = totals ? totals[cell.dataset.total] : null;
      if (value === null || value === undefined) {
        cell.textContent = "–";
      } else {
        cell.textContent = cell.classList.contains("rate") ? percent(value) : numbers.format(value);
      }
    }
  }

  function clearWorkers() {
    for (const canvas of workersBody.querySelectorAll("canvas")) {
      const chart = Chart.getChart(canvas);
      if (chart) {
        chart.destroy();
      }
    }
    workersBody.replaceChildren();
  }

  function workerLink(key) {
    const params = new URLSearchParams(window.location.search);
    params.set("worker_id", key);
    const link = document.createElement("a");
    link.href = `?${params}`;
    link.textContent = key;
    return link;
  }

  // The table's rows, most contacted first; returns the canvases of the trend lines to draw, by worker.
  function drawWorkers(results) {
    clearWorkers();
    const rows = [...results].sort((a, b) => b.contacts - a.contacts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const trends = new Map();
    for (const row of rows) {
      const tr = workersBody.insertRow();
      tr.dataset.worker = row.key;
      const name = document.createElement("th");
      name.scope = "row";
      name.append(row.key === "" ? workerName(row.key) : workerLink(row.key));
      tr.append(name);
      for (const [value, isRate] of [
        [row.contacts, false],
        [row.replied, false],
        [row.reply_rate, true],
        [row.wechat_exchanged, false],
        [row.wechat_rate, true],
      ]) {
        const cell = tr.insertCell();
        cell.className = "number";
        cell.textContent = isRate ? percent(value) : numbers.format(value);
      }
      const trendCell = tr.insertCell();
      trendCell.className = "trend";
      // An empty worker id cannot be asked for on its own (the filter takes it as no filter).
      if (row.key !== "" && trends.size < trendWorkersMax) {
        const canvas = document.createElement("canvas");
        canvas.width = 140;
        canvas.height = 32;
        canvas.dataset.worker = row.key;
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", `${row.key} 各时段的联系数与已回复数`);
        trendCell.append(canvas);
        trends.set(row.key, canvas);
      }
    }
    if (!rows.length) {
      const cell = workersBody.insertRow().insertCell();
      cell.colSpan = 7;
      cell.textContent = "这段时间没有联系记录。";
    }
    return trends;
  }

  function drawTrend(canvas, results) {
    const line = (label, color, values) => ({
      label,
      data: values,
      borderColor: color,
      borderWidth: 1.5,
      pointRadius: 0,
      tension: 0,
    });
    new Chart(canvas, {
      type: "line",
      data: {
        labels: results.map((row) => row.key),
        datasets: [
          line("联系", COLORS.contacts, results.map((row) => row.contacts)),
          line("已回复", COLORS.replied, results.map((row) => row.replied)),
        ],
      },
      options: {
        responsive: false,
        events: [],
        layout: { padding: 2 },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
      },
    });
  }

  let generation = 0;

  function showError(error) {
    errorBox.textContent = error instanceof ApiError ? error.message : `页面出错:${error}`;
    errorBox.hidden = false;
  }

  async function load() {
    const mine = ++generation;
    const current = () => mine === generation;
    root.dataset.state = "loading";
    statusBox.textContent = "加载中…";
    errorBox.hidden = true;
    const asked = filters();
    const groupBy = form.elements.group_by.value;
    try {
      const [series, workers] = await Promise.all([
        stats({ ...asked, group_by: groupBy }),
        stats({ ...asked, group_by: "worker_id" }),
      ]);
      if (!current()) {
        return;
      }
      drawTotals(series.totals);
      drawSeries(series.results);
      const trends = drawWorkers(workers.results);
      // One worker picked: its trend is the series already drawn above.
      const trendSeries = await Promise.all(
        [...trends.keys()].map((key) =>
          key === asked.worker_id ? series : stats({ ...asked, worker_id: key, group_by: groupBy }),
        ),
      );
      if (!current()) {
        return;
      }
      [...trends.values()].forEach((canvas, index) => drawTrend(canvas, trendSeries[index].results));
      root.dataset.state = "ready";
      statusBox.textContent = "";
      performance.mark("dashboard-ready");
    } catch (error) {
      if (!current()) {
        return;
      }
      drawTotals(null);
      drawSeries([]);
      clearWorkers();
      showError(error);
      root.dataset.state = "error";
      statusBox.textContent = "";
    }
  }

  // The picker offers every worker the user's contacts have, whatever the range, in the API's order.
  async function loadWorkerChoices() {
    const select = form.elements.worker_id;
    const data = await stats({ group_by: "worker_id" });
    const picked = select.value;
    const keys = data.results.map((row) => row.key).filter((key) => key !== "");
    if (picked && !keys.includes(picked)) {
      keys.push(picked);
    }
    select.replaceChildren(new Option("全部", ""), ...keys.map((key) => new Option(key, key)));
    select.value = picked;
  }

  form.addEventListener("change", () => {
    writeAddress();
    load();
  });
  form.addEventListener("submit", (event) => event.preventDefault());

  styleCharts();
  readAddress();
  loadWorkerChoices().catch(showError);
  load();
})();
