/* Identity gap dashboard: reads the JSON API of the server that serves it, redraws every 60 s. */
'use strict';
(function () {
  const REFRESH_MS = 60_000;
  const nf = new Intl.NumberFormat('en-US');
  const state = { chart: null, data: null, loads: 0 };
  window.idgapDashboard = state;

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (n === null || n === undefined ? '–' : nf.format(n));
  /** 32-char lead ids as 8…4, whole in the tooltip. */
  const shortId = (id) => (id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);
  const setText = (id, text) => { $(id).textContent = text; };
  /** Every time on the page: UTC, 24-hour, labelled (`2026-12-07 14:05 UTC`), whatever the browser's zone. */
  const utc = (value, seconds = false) => `${new Date(value).toISOString().slice(0, seconds ? 19 : 16).replace('T', ' ')} UTC`;

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  }

  /** Replaces a tbody's rows; cells are text (never HTML). */
  function fillRows(tbodyId, rows, cells, emptyText) {
    const tbody = $(tbodyId);
    tbody.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 8;
      td.className = 'muted';
      td.textContent = emptyText;
      tr.append(td);
      tbody.append(tr);
      return;
    }
    for (const row of rows) {
      const tr = document.createElement('tr');
      for (const c of cells(row)) {
        const td = document.createElement('td');
        td.textContent = c.text;
        if (c.className) td.className = c.className;
        if (c.title) td.title = c.title;
        tr.append(td);
      }
      tbody.append(tr);
    }
  }

  function badge(id, value) {
    const el = $(id);
    el.textContent = value;
    el.className = `badge badge-${value}`;
  }

  function renderCards(gaps, freshness) {
    const t = gaps.totals;
    setText('card-total', fmt(t.total));
    setText('card-unresolved', fmt(t.unresolved));
    setText('card-pct-unresolved', `${t.pct_unresolved.toFixed(2)} %`);
    setText('card-high-risk', fmt(t.high_risk));
    setText('card-matched-24h', fmt(freshness.matched_24h));
    badge('freshness-badge', freshness.status);
    setText('freshness-detail', freshness.last_success_at
      ? `last successful recovery ${utc(freshness.last_success_at)} (${freshness.hours_since_last_success} h ago; stale after ${freshness.stale_hours} h)`
      : 'no recovery has succeeded yet');
  }

  function renderHistory(history) {
    const items = history.items;
    /* A trend needs two days: on day one the chart has a single point, so say so rather than show nothing. */
    const note = $('history-empty');
    note.hidden = items.length >= 2;
    note.textContent = items.length === 0
      ? 'No history yet: the snapshot task writes one row per day; the chart starts with the first.'
      : `Only ${items.length} day of history (${items[0].snapshot_date}): the chart shows a trend from the second day on.`;
    const labels = items.map((r) => r.snapshot_date);
    const datasets = [
      { label: '% unresolved', data: items.map((r) => r.pct_unresolved), yAxisID: 'pct', borderColor: '#b91c1c', backgroundColor: '#b91c1c', borderWidth: 2, tension: 0.2 },
      { label: 'no identity', data: items.map((r) => r.no_identity), yAxisID: 'leads', borderColor: '#2563eb', backgroundColor: '#2563eb', borderWidth: 1.5 },
      { label: 'no origin', data: items.map((r) => r.no_origin), yAxisID: 'leads', borderColor: '#b45309', backgroundColor: '#b45309', borderWidth: 1.5 },
      { label: 'inconsistent origin', data: items.map((r) => r.inconsistent_origin), yAxisID: 'leads', borderColor: '#7c3aed', backgroundColor: '#7c3aed', borderWidth: 1.5 },
    ];
    if (state.chart) {
      state.chart.data.labels = labels;
      state.chart.data.datasets.forEach((ds, i) => { ds.data = datasets[i].data; });
      state.chart.update();
      return;
    }
    state.chart = new window.Chart($('history-chart'), {
      type: 'line',
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
        scales: {
          pct: { type: 'linear', position: 'left', min: 0, title: { display: true, text: '% unresolved' } },
          leads: { type: 'linear', position: 'right', min: 0, grid: { drawOnChartArea: false }, title: { display: true, text: 'leads' } },
        },
      },
    });
  }

  function renderHealth(health) {
    badge('health-overall', health.status);
    fillRows('health-rows', health.checks, (c) => [
      { text: c.check, title: c.hint },
      { text: c.status, className: `status-${c.status}` },
      { text: c.value === null ? '–' : String(c.value), className: 'num' },
      { text: c.threshold === null ? '–' : String(c.threshold), className: 'num' },
    ], 'no checks');
  }

  function renderFailReasons(fail) {
    fillRows('fail-reason-rows', fail.items, (r) => [
      { text: r.fail_reason },
      { text: fmt(r.leads), className: 'num' },
      { text: fmt(r.pending), className: 'num' },
      { text: fmt(r.failed), className: 'num' },
      { text: String(r.avg_attempts), className: 'num' },
    ], 'no failed attempts');
  }

  function renderAlerts(alerts) {
    const total = alerts.meta.total_items;
    setText('alert-total', total > alerts.items.length ? `${fmt(alerts.items.length)} newest of ${fmt(total)}` : `${fmt(total)} in all`);
    fillRows('alert-rows', alerts.items, (a) => [
      { text: shortId(a.lead_id), className: 'lead', title: a.lead_id },
      { text: a.alert_type, title: a.suggested_action },
      { text: a.severity },
      { text: a.days_open === null ? '–' : String(a.days_open), className: 'num' },
    ], 'no open alerts');
  }

  function renderRuns(runs) {
    fillRows('run-rows', runs.items, (r) => [
      { text: String(r.id), className: 'num' },
      { text: r.task },
      { text: r.trigger },
      { text: r.state, className: `state-${r.state}`, title: r.error || '' },
      { text: utc(r.started_at) },
      { text: fmt(r.matched), className: 'num' },
      { text: r.duration_ms === null ? '–' : fmt(r.duration_ms), className: 'num' },
    ], 'no runs yet');
  }

  async function load() {
    try {
      const [gaps, freshness, history, health, fail, alerts, runs] = await Promise.all([
        getJson('/api/v1/ops/identity-gaps?page_size=1'),
        getJson('/api/v1/ops/identity-gaps/freshness'),
        getJson('/api/v1/ops/identity-gaps/history?days=90'),
        getJson('/api/v1/ops/identity-gaps/health'),
        getJson('/api/v1/ops/identity-gaps/fail-reasons?limit=8'),
        getJson('/api/v1/ops/identity-gaps/alerts?order=newest&page_size=10'),
        getJson('/api/v1/ops/runs?limit=20'),
      ]);
      state.data = { gaps, freshness, history, health, fail, alerts, runs };
      renderCards(gaps, freshness);
      renderHistory(history);
      renderHealth(health);
      renderFailReasons(fail);
      renderAlerts(alerts);
      renderRuns(runs);
      $('load-error').hidden = true;
      setText('updated-at', `updated ${utc(Date.now(), true)}`);
      state.loads += 1;
      document.body.dataset.loaded = String(state.loads);
    } catch (e) {
      const el = $('load-error');
      el.textContent = `Could not refresh: ${e.message}`;
      el.hidden = false;
    }
  }

  load();
  setInterval(load, REFRESH_MS);
})();
