import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { useTestDatabase } from '../support/db.js';
import { rowsOf } from '../support/gap.js';
import { GAP_DATASET_TOTALS as EXPECTED, insertGapDataset } from '../support/gap_dataset.js';
import { silentLog } from '../support/log.js';
import { startTestApi, type TestApi } from '../support/api.js';

/*
 * Issue 15 item 4 and issue 18 item 8: the gap totals have one definition, so
 * on one dataset the history row ops.snapshot_identity_gap writes, the diagnose
 * view, the API's totals and breakdown and /metrics give the same numbers, and
 * every risk count is of unresolved leads.
 */
const db = await useTestDatabase();
let api: TestApi;
type Row = Record<string, number>;
let daily: Row;
let summary: Row;
let gaps: { totals: Row; breakdown: Array<{ gap_reason: string; risk_level: string; leads: number }> };
let metrics: PromFamily[];

beforeAll(async () => {
  silentLog();
  await insertGapDataset(db.pool);
  daily = (await rowsOf<Row>(db.pool, `select snapshot.*, snapshot.pct_unresolved::float8 as pct_unresolved from ops.snapshot_identity_gap() as snapshot`))[0]!;
  summary = (await rowsOf<Row>(db.pool, `select summary.*, summary.pct_unresolved::float8 as pct_unresolved from ops.v_diag_gap_summary as summary`))[0]!;
  api = await startTestApi(db.pool);
  const res = await api.get('/api/v1/ops/identity-gaps');
  expect(res.status).toBe(200);
  gaps = (await res.json()) as typeof gaps;
  const scrape = await api.get('/metrics');
  expect(scrape.status).toBe(200);
  metrics = parsePrometheusTextFormat(await scrape.text());
});
afterAll(async () => api?.app.close());

/** Sum of the idgap_gap_leads series whose labels match. */
function gauge(labels: Record<string, string>): number {
  const family = metrics.find((f) => f.name === 'idgap_gap_leads');
  if (!family) throw new Error('idgap_gap_leads missing from /metrics');
  return family.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((n, m) => n + Number(m.value), 0);
}
const pctGauge = () => Number(metrics.find((f) => f.name === 'idgap_gap_pct_unresolved')!.metrics[0]!.value);
const breakdown = (key: 'gap_reason' | 'risk_level', value: string) =>
  gaps.breakdown.filter((cell) => cell[key] === value).reduce((n, cell) => n + cell.leads, 0);

describe('the gap totals, read by the snapshot, the diagnose view, the API and /metrics', () => {
  it('agree on total, unresolved, resolved and pct_unresolved', () => {
    const readers = {
      snapshot: [daily.total_leads, daily.unresolved, daily.resolved, daily.pct_unresolved],
      diagnose: [summary.total_leads, summary.unresolved, summary.resolved, summary.pct_unresolved],
      api: [gaps.totals.total, gaps.totals.unresolved, gaps.totals.resolved, gaps.totals.pct_unresolved],
      metrics: [undefined, gauge({}), undefined, pctGauge()],
    };
    const expected = [EXPECTED.total, EXPECTED.unresolved, EXPECTED.resolved, EXPECTED.pct_unresolved];
    expect(readers).toEqual({
      snapshot: expected,
      diagnose: expected,
      api: expected,
      metrics: [undefined, EXPECTED.unresolved, undefined, EXPECTED.pct_unresolved],
    });
  });

  it('agree on the unresolved leads per risk level: the history row counts no resolved lead', () => {
    const readers = {
      snapshot: [daily.risk_high, daily.risk_medium, daily.risk_low],
      diagnose: [summary.high_risk, summary.medium_risk, summary.low_risk],
      api: [gaps.totals.high_risk, breakdown('risk_level', 'medium'), breakdown('risk_level', 'low')],
      api_breakdown: ['high', 'medium', 'low'].map((risk) => breakdown('risk_level', risk)),
      metrics: ['high', 'medium', 'low'].map((risk) => gauge({ risk_level: risk })),
    };
    const expected = [EXPECTED.risk_high, EXPECTED.risk_medium, EXPECTED.risk_low];
    expect(readers).toEqual({ snapshot: expected, diagnose: expected, api: expected, api_breakdown: expected, metrics: expected });
    expect(daily.risk_high! + daily.risk_medium! + daily.risk_low!).toBe(daily.unresolved);
  });

  it('agree on the leads per gap reason', () => {
    const reasons = ['no_identity', 'no_origin', 'inconsistent_origin'];
    const expected = [EXPECTED.no_identity, EXPECTED.no_origin, EXPECTED.inconsistent_origin];
    expect({
      snapshot: reasons.map((reason) => daily[reason]),
      api: reasons.map((reason) => breakdown('gap_reason', reason)),
      metrics: reasons.map((reason) => gauge({ gap_reason: reason })),
    }).toEqual({ snapshot: expected, api: expected, metrics: expected });
  });
});
