/* The Review page: the review queue's leads, one lead and its candidates side by side, accept and reject.
   The API token and the reviewer's name live in sessionStorage (this tab's session only). Text only, never HTML. */
'use strict';
(function () {
  const PAGE_SIZE = 20;
  const KEYS = { token: 'idgap.review.token', reviewer: 'idgap.review.reviewer' };
  const state = { page: 1, totalPages: 0, items: [], selected: null, busy: false, loads: 0 };
  window.idgapReview = state;

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, children = []) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e[k] = v;
    }
    e.append(...children);
    return e;
  };
  const show = (v) => (v === null || v === undefined || v === '' ? '–' : String(v));
  const token = () => sessionStorage.getItem(KEYS.token);
  const reviewer = () => sessionStorage.getItem(KEYS.reviewer);

  function message(id, text) {
    $(id).textContent = text || '';
    $(id).hidden = !text;
  }

  function showLogin(error) {
    $('review-login').hidden = false;
    $('review-main').hidden = true;
    $('review-signout').hidden = true;
    setText('review-who', '');
    setText('review-count', '');
    message('review-error', error);
    document.body.dataset.loaded = '1';
    $('review-token').focus();
  }

  function setText(id, text) {
    $(id).textContent = text;
  }

  async function api(method, url, body) {
    const headers = { accept: 'application/json', authorization: `Bearer ${token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(KEYS.token);
      const err = new Error(res.status === 401 ? 'The API token was refused: enter it again.' : `${data.message || 'forbidden'}${data.hint ? ` (${data.hint})` : ''}`);
      err.auth = true;
      throw err;
    }
    if (!res.ok) throw new Error(data.message || `HTTP ${res.status}`);
    return data;
  }

  /** A compared field's cell: ✓ agrees, ✗ disagrees, ? missing on one side; the class colours it. */
  function markedCell(agrees, text) {
    const kind = agrees === true ? 'agree' : agrees === false ? 'disagree' : 'missing';
    const symbol = { agree: '✓', disagree: '✗', missing: '?' }[kind];
    return el('td', { className: kind, dataset: { agrees: kind } }, [el('span', { className: `mark mark-${kind}`, textContent: symbol }), show(text)]);
  }

  /** The engine's evidence: each compared field's level and weight (evidence.fields), then the total weight. */
  function evidenceText(evidence) {
    if (!evidence || typeof evidence !== 'object') return show(evidence);
    const fields = evidence.fields && typeof evidence.fields === 'object' ? evidence.fields : {};
    const parts = Object.entries(fields).map(([field, v]) =>
      v && typeof v === 'object' ? `${field}: ${show(v.level)}${v.weight !== undefined ? ` (${v.weight})` : ''}` : `${field}: ${show(v)}`);
    if (evidence.weight !== undefined) parts.push(`total weight ${evidence.weight}`);
    return parts.length ? parts.join(' · ') : '–';
  }

  function renderCompare(item) {
    const table = $('review-compare');
    table.replaceChildren();
    if (!item) {
      setText('review-title', state.items.length ? 'Pick a lead' : 'The review queue is empty');
      return;
    }
    setText('review-title', `Lead ${item.lead_id} · ${item.queue_reason} · ${item.candidates.length} candidate${item.candidates.length === 1 ? '' : 's'}`);
    const cs = item.candidates;
    const row = (label, leadText, cells) => el('tr', {}, [el('th', { scope: 'row', textContent: label }), el('td', { className: 'lead-side', textContent: leadText === '' ? '' : show(leadText) }), ...cells]);
    const days = (c) => (c.compared.days_after_hire === null ? '' : ` (lead ${c.compared.days_after_hire >= 0 ? '+' : ''}${c.compared.days_after_hire} d)`);
    table.append(
      el('thead', {}, [el('tr', {}, [el('th', {}), el('th', { textContent: 'Lead' }),
        ...cs.map((c) => el('th', { dataset: { driver: c.driver_id }, textContent: `#${c.candidate_rank} ${c.driver_id} · score ${c.score}` }))])]),
      el('tbody', {}, [
        row('name', item.lead.name, cs.map((c) => markedCell(c.compared.name_agrees, `${show(c.driver.name)} (similarity ${show(c.compared.name_similarity)})`))),
        row('plate', item.lead.plate, cs.map((c) => markedCell(c.compared.plate_agrees, c.driver.plate))),
        row('phone', item.lead.phone_masked, cs.map((c) => markedCell(c.compared.phone_agrees, c.driver.phone_masked))),
        row('lead date / hire date', item.lead.date, cs.map((c) => markedCell(c.compared.hire_date_agrees, `${show(c.driver.hire_date)}${days(c)}`))),
        row('park', item.lead.park, cs.map((c) => el('td', { textContent: show(c.driver.park) }))),
        row('rule', '', cs.map((c) => el('td', { textContent: `${c.match_rule} (${c.queue_reason})` }))),
        row('evidence', '', cs.map((c) => el('td', { className: 'muted', textContent: evidenceText(c.evidence) }))),
        row('person', '', cs.map((c) => el('td', { className: 'muted', textContent: c.person_key || 'none yet: accept creates one' }))),
        row('', '', cs.map((c) => el('td', {}, [el('div', { className: 'actions' }, [
          el('button', { type: 'button', className: 'accept', textContent: 'Accept', dataset: { testid: `accept-${c.driver_id}` },
            on: { click: () => decide(item.lead_id, c.driver_id, 'accept') } }),
          el('button', { type: 'button', className: 'reject', textContent: 'Reject', dataset: { testid: `reject-${c.driver_id}` },
            on: { click: () => decide(item.lead_id, c.driver_id, 'reject') } }),
        ])]))),
      ]),
    );
  }

  function renderList() {
    const list = $('review-leads');
    list.replaceChildren(...state.items.map((item) => {
      const best = item.candidates[0];
      return el('li', {}, [el('button', {
        type: 'button', className: item.lead_id === state.selected ? 'selected' : '', dataset: { testid: `lead-${item.lead_id}`, lead: item.lead_id },
        on: { click: () => { state.selected = item.lead_id; renderList(); renderCompare(item); } },
      }, [show(item.lead.name), el('span', { className: 'sub', textContent: `${item.queue_reason} · ${item.candidates.length} · best ${best ? best.score : '–'}` })])]);
    }));
    setText('review-page', state.totalPages ? `page ${state.page} of ${state.totalPages}` : '');
    $('review-prev').disabled = state.page <= 1;
    $('review-next').disabled = state.page >= state.totalPages;
  }

  async function load() {
    if (!token() || !reviewer()) return showLogin('');
    $('review-login').hidden = true;
    $('review-main').hidden = false;
    $('review-signout').hidden = false;
    setText('review-who', `reviewer: ${reviewer()}`);
    try {
      const data = await api('GET', `/api/v1/ops/identity-review?page=${state.page}&page_size=${PAGE_SIZE}`);
      if (data.items.length === 0 && state.page > 1 && data.meta.total_pages > 0) {
        state.page = data.meta.total_pages;
        return load();
      }
      state.items = data.items;
      state.totalPages = data.meta.total_pages;
      setText('review-count', `${data.meta.total_items} lead${data.meta.total_items === 1 ? '' : 's'} to review`);
      if (!state.items.some((i) => i.lead_id === state.selected)) state.selected = state.items[0] ? state.items[0].lead_id : null;
      renderList();
      renderCompare(state.items.find((i) => i.lead_id === state.selected));
      message('review-error', '');
    } catch (e) {
      if (e.auth) return showLogin(e.message);
      message('review-error', e.message);
    } finally {
      state.loads += 1;
      document.body.dataset.loaded = '1';
    }
  }

  async function decide(leadId, driverId, decision) {
    if (state.busy) return;
    state.busy = true;
    document.body.dataset.busy = '1';
    for (const b of document.querySelectorAll('.actions button')) b.disabled = true;
    try {
      const note = $('review-note').value.trim();
      const r = await api('POST', `/api/v1/ops/identity-review/${encodeURIComponent(leadId)}/decisions`,
        { driver: driverId, decision, reviewer: reviewer(), ...(note ? { note } : {}) });
      $('review-note').value = '';
      /* The queue is read again first, so that the page shows what the message says. */
      await load();
      message('review-message', decision === 'accept'
        ? `Accepted: lead ${r.lead_id} linked to driver ${r.driver_id}'s person ${r.person_key}${r.person_created ? ' (new person)' : ''}.`
        : `Rejected: lead ${r.lead_id} and driver ${r.driver_id} will never be linked.`);
    } catch (e) {
      if (e.auth) return showLogin(e.message);
      message('review-message', '');
      message('review-error', e.message);
      for (const b of document.querySelectorAll('.actions button')) b.disabled = false;
    } finally {
      state.busy = false;
      document.body.dataset.busy = '0';
    }
  }

  $('review-login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('review-token').value.trim();
    const name = $('review-name').value.trim();
    if (!t || !name) return showLogin('Enter the API token and your name.');
    sessionStorage.setItem(KEYS.token, t);
    sessionStorage.setItem(KEYS.reviewer, name);
    $('review-token').value = '';
    load();
  });
  $('review-signout').addEventListener('click', () => {
    sessionStorage.removeItem(KEYS.token);
    sessionStorage.removeItem(KEYS.reviewer);
    state.items = [];
    showLogin('');
  });
  $('review-prev').addEventListener('click', () => { state.page = Math.max(1, state.page - 1); load(); });
  $('review-next').addEventListener('click', () => { state.page += 1; load(); });
  load();
})();
