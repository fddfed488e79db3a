import type pg from 'pg';
import { z } from 'zod';
import { GAP_REASONS, gapReason, riskLevel, runState } from './payloads.js';

/**
 * The runbook's diagnosis (README, "What `npx idgap diagnose` shows"), read
 * from the ops views so that psql, the CLI and the HTTP API show the same
 * numbers. No rule lives here: every figure and every status comes from SQL;
 * this module only reads them in one snapshot and types them.
 */

/** numeric/bigint columns arrive as strings from node-postgres. */
const num = z.coerce.number();
const numOrNull = z.union([z.null(), z.coerce.number()]);
const timestamp = z.union([z.date().transform((d) => d.toISOString()), z.iso.datetime({ offset: true })]);
const timestampOrNull = z.union([z.null(), timestamp]);
const day = z.iso.date();
const dayOrNull = z.union([z.null(), day]);

export const gapSummarySchema = z.object({
  total_leads: num,
  unresolved: num,
  resolved: num,
  pct_unresolved: num,
  high_risk: num,
  medium_risk: num,
  low_risk: num,
  repeat_leads: num,
});

export const breakdownCellSchema = z.object({
  gap_reason: gapReason,
  risk_level: riskLevel,
  risk_rank: num,
  leads: num,
  oldest_lead_date: dayOrNull,
  max_age_days: numOrNull,
  unknown_date_leads: num,
});

export const freshnessSchema = z.object({
  status: z.enum(['OK', 'STALE', 'NEVER']),
  last_success_run_id: numOrNull,
  last_success_at: timestampOrNull,
  hours_since_last_success: numOrNull,
  stale_threshold_hours: num,
  runs_24h: num,
  succeeded_runs_24h: num,
  failed_runs_24h: num,
  running_now: num,
  matched_24h: num,
  processed_24h: num,
  last_run_id: numOrNull,
  last_run_state: runState.nullable(),
  last_run_started_at: timestampOrNull,
  last_run_error: z.string().nullable(),
});

export const failReasonSchema = z.object({
  fail_reason: z.string(),
  leads: num,
  pending: num,
  failed: num,
  pct_of_failing: num,
  avg_attempts: num,
  max_attempts: num,
  last_attempt_at: timestampOrNull,
  next_attempt_at: timestampOrNull,
});

export const taskVolumeSchema = z.object({
  task: z.string(),
  runs: num,
  succeeded: num,
  failed_runs: num,
  rejected: num,
  running: num,
  processed: num,
  matched: num,
  failed: num,
  pending: num,
  skipped: num,
  duration_ms: num,
  leads_per_second: numOrNull,
});

export const integrityCheckSchema = z.object({
  check: z.string(),
  violations: num,
  status: z.enum(['ok', 'fail']),
  description: z.string(),
  list_query: z.string(),
});

export const healthCheckSchema = z.object({
  check: z.string(),
  status: z.enum(['ok', 'warn', 'fail']),
  value: numOrNull,
  threshold: numOrNull,
  hint: z.string(),
});

export const trendPeriodSchema = z.object({
  period: z.enum(['1d', '7d', '30d']),
  days: num,
  snapshot_date: day,
  reference_date: day,
  pct_unresolved_now: numOrNull,
  pct_unresolved_then: numOrNull,
  pct_unresolved_change: numOrNull,
  unresolved_now: numOrNull,
  unresolved_then: numOrNull,
  unresolved_change: numOrNull,
  matched_in_period: num,
  runs_in_period: num,
  direction: z.enum(['down', 'up', 'flat', 'no_history', 'unknown']),
});

export const problemSchema = z.object({
  source: z.enum(['health', 'integrity']),
  check: z.string(),
  status: z.enum(['warn', 'fail']),
  action: z.string(),
});

/** Record-to-link latency of the leads the arrival work list recorded in the last hour / day (ops.v_lead_link_latency_summary). */
export const latencySummarySchema = z.object({
  period: z.enum(['1h', '1d']),
  recorded: num,
  linked: num,
  waiting: num,
  p50_seconds: numOrNull,
  p95_seconds: numOrNull,
  p99_seconds: numOrNull,
  max_seconds: numOrNull,
});

/** The whole diagnosis: what `idgap diagnose --json` prints and what the API can serve. */
export const diagnosisSchema = z.object({
  generated_at: timestamp,
  gap: gapSummarySchema,
  breakdown: z.array(breakdownCellSchema),
  freshness: freshnessSchema,
  fail_reasons: z.array(failReasonSchema),
  volume_24h: z.array(taskVolumeSchema),
  integrity: z.array(integrityCheckSchema),
  health: z.array(healthCheckSchema),
  trend: z.array(trendPeriodSchema),
  arrival_latency: z.array(latencySummarySchema),
  /** Failing checks (exit 1 under --check) and warnings, each with the action to take. */
  problems: z.array(problemSchema),
  ok: z.boolean(),
});

export type Diagnosis = z.infer<typeof diagnosisSchema>;

/** Integrity checks that ops.v_identity_gap_health already reports under another name: listed once. */
const MIRRORED_IN_HEALTH = new Set(['matched_without_link', 'resolved_without_origin']);

/** Top fail reasons shown; the view has at most one row per reason code (8). */
const TOP_FAIL_REASONS = 10;

const QUERIES = {
  now: 'select now() as generated_at',
  gap: 'select * from ops.v_diag_gap_summary',
  breakdown: 'select * from ops.v_diag_gap_breakdown order by reason_order, risk_rank desc',
  freshness: 'select * from ops.v_diag_freshness',
  failReasons: `select * from ops.v_diag_fail_reasons order by leads desc, fail_reason limit ${TOP_FAIL_REASONS}`,
  volume: 'select * from ops.v_diag_volume_24h order by task',
  integrity: 'select * from ops.v_diag_integrity order by check_order',
  health: 'select * from ops.v_identity_gap_health order by status_rank desc, "check"',
  trend: 'select * from ops.v_identity_gap_trend order by days',
  latency: 'select * from ops.v_lead_link_latency_summary',
} as const;

/**
 * Reads every diagnostic view in one read-only, repeatable-read transaction (one
 * consistent snapshot) and returns the validated diagnosis. Takes a pool (a
 * connection is borrowed) or a client the caller owns.
 */
export async function readDiagnosis(db: pg.Pool | pg.ClientBase): Promise<Diagnosis> {
  const pool = 'totalCount' in db ? (db as pg.Pool) : undefined;
  const client: pg.ClientBase = pool ? await pool.connect() : (db as pg.ClientBase);
  try {
    await client.query('begin transaction isolation level repeatable read, read only');
    try {
      const read = async (sql: string) => (await client.query(sql)).rows as Array<Record<string, unknown>>;
      // One after another: a connection runs one query at a time anyway, and pg 9 refuses queued ones.
      const now = await read(QUERIES.now);
      const gap = await read(QUERIES.gap);
      const breakdown = await read(QUERIES.breakdown);
      const freshness = await read(QUERIES.freshness);
      const failReasons = await read(QUERIES.failReasons);
      const volume = await read(QUERIES.volume);
      const integrity = await read(QUERIES.integrity);
      const health = await read(QUERIES.health);
      const trend = await read(QUERIES.trend);
      const latency = await read(QUERIES.latency);
      await client.query('commit');
      const healthRows = z.array(healthCheckSchema).parse(health);
      const integrityRows = z.array(integrityCheckSchema).parse(integrity);
      const problems: Diagnosis['problems'] = [
        ...healthRows
          .filter((h) => h.status !== 'ok')
          .map((h) => ({ source: 'health' as const, check: h.check, status: h.status as 'warn' | 'fail', action: h.hint })),
        ...integrityRows
          .filter((i) => i.status === 'fail' && !MIRRORED_IN_HEALTH.has(i.check))
          .map((i) => ({ source: 'integrity' as const, check: i.check, status: 'fail' as const, action: `${i.description} List them: ${i.list_query}` })),
      ].sort((a, b) => (a.status === b.status ? 0 : a.status === 'fail' ? -1 : 1));
      return diagnosisSchema.parse({
        generated_at: now[0]!.generated_at,
        gap: gap[0],
        breakdown,
        freshness: freshness[0],
        fail_reasons: failReasons,
        volume_24h: volume,
        integrity: integrityRows,
        health: healthRows,
        trend,
        arrival_latency: latency,
        problems,
        ok: !problems.some((p) => p.status === 'fail'),
      });
    } catch (e) {
      await client.query('rollback').catch(() => undefined);
      throw e;
    }
  } finally {
    if (pool) (client as pg.PoolClient).release();
  }
}

/** The checks that make `idgap diagnose --check` exit 1 (warnings do not). */
export function failingChecks(d: Diagnosis): string[] {
  return d.problems.filter((p) => p.status === 'fail').map((p) => p.check);
}

// ---------------------------------------------------------------------------
// Human-readable rendering
// ---------------------------------------------------------------------------

type Align = 'l' | 'r';

/** Aligned plain-text table: two-space indent, columns padded to their widest cell. */
export function renderTable(headers: string[], rows: string[][], align: Align[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const int = (n: number | null) => (n === null ? '-' : n.toLocaleString('en-US'));
const dec = (n: number | null, digits = 2) => (n === null ? '-' : n.toFixed(digits));
const signed = (n: number | null, digits = 2) => (n === null ? '-' : `${n > 0 ? '+' : ''}${n.toFixed(digits)}`);
const when = (iso: string | null) => (iso === null ? 'never' : `${iso.slice(0, 16).replace('T', ' ')} UTC`);
const upper = (s: string) => s.toUpperCase();

export function renderDiagnosis(d: Diagnosis): string {
  const out: string[] = [];
  const section = (title: string, body: string) => out.push(`${title}\n${body}\n`);
  out.push(`Identity gap diagnosis — ${when(d.generated_at)}\n`);

  const g = d.gap;
  section(
    'GAP  (ops.v_diag_gap_summary)',
    renderTable(
      ['total', 'unresolved', '% unresolved', 'resolved', 'repeat leads', 'high risk', 'medium', 'low'],
      [[int(g.total_leads), int(g.unresolved), `${dec(g.pct_unresolved)} %`, int(g.resolved), int(g.repeat_leads), int(g.high_risk), int(g.medium_risk), int(g.low_risk)]],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );

  section(
    'BREAKDOWN: unresolved leads by reason x risk  (ops.v_diag_gap_breakdown)',
    renderTable(
      ['gap_reason', 'high', 'medium', 'low', 'total', 'oldest lead'],
      GAP_REASONS.map((reason) => {
        const cells = d.breakdown.filter((c) => c.gap_reason === reason);
        const count = (risk: string) => cells.find((c) => c.risk_level === risk)?.leads ?? 0;
        const oldest = cells.map((c) => c.oldest_lead_date).filter((x): x is string => x !== null).sort()[0] ?? '-';
        return [reason, int(count('high')), int(count('medium')), int(count('low')), int(cells.reduce((n, c) => n + c.leads, 0)), oldest];
      }),
      ['l', 'r', 'r', 'r', 'r', 'l'],
    ),
  );

  const f = d.freshness;
  const ago = f.hours_since_last_success === null ? '' : `, ${dec(f.hours_since_last_success, 1)} h ago`;
  section(
    `FRESHNESS: retry_identity_matching is ${f.status}  (ops.v_diag_freshness; STALE after ${f.stale_threshold_hours} h)`,
    [
      `  last success   ${when(f.last_success_at)}${f.last_success_run_id === null ? '' : ` (run ${f.last_success_run_id})`}${ago}`,
      `  last 24 h      ${f.runs_24h} run${f.runs_24h === 1 ? '' : 's'}: ${f.succeeded_runs_24h} succeeded, ${f.failed_runs_24h} failed or rejected, ${f.running_now} running; ${int(f.matched_24h)} matched of ${int(f.processed_24h)} processed`,
      `  last run       ${f.last_run_id === null ? 'none' : `run ${f.last_run_id} ${f.last_run_state}, started ${when(f.last_run_started_at)}`}${f.last_run_error ? `: ${f.last_run_error}` : ''}`,
    ].join('\n'),
  );

  section(
    'TOP FAIL REASONS: leads pending or failed  (ops.v_diag_fail_reasons)',
    d.fail_reasons.length === 0
      ? '  none'
      : renderTable(
          ['fail_reason', 'leads', 'share', 'pending', 'failed', 'avg attempts', 'max attempts', 'last attempt'],
          d.fail_reasons.map((r) => [r.fail_reason, int(r.leads), `${dec(r.pct_of_failing, 1)} %`, int(r.pending), int(r.failed), dec(r.avg_attempts, 1), int(r.max_attempts), when(r.last_attempt_at)]),
          ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
        ),
  );

  section(
    'VOLUME, last 24 h  (ops.v_diag_volume_24h)',
    renderTable(
      ['task', 'runs', 'ok', 'failed', 'rejected', 'processed', 'matched', 'pending', 'leads/s'],
      d.volume_24h.map((v) => [v.task, int(v.runs), int(v.succeeded), int(v.failed_runs), int(v.rejected), int(v.processed), int(v.matched), int(v.pending), v.leads_per_second === null ? '-' : dec(v.leads_per_second, 1)]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );

  section(
    'INTEGRITY: all must be 0  (ops.v_diag_integrity)',
    renderTable(
      ['check', 'violations', 'status'],
      d.integrity.map((i) => [i.check, int(i.violations), upper(i.status)]),
      ['l', 'r', 'l'],
    ),
  );

  section(
    'ARRIVALS: landed -> linked  (ops.v_lead_link_latency_summary)',
    d.arrival_latency
      .map((l) => {
        const seconds = (n: number | null) => (n === null ? '-' : `${dec(n, 1)} s`);
        return `  ${l.period === '1h' ? 'last hour' : 'last day '}  ${int(l.recorded)} recorded, ${int(l.linked)} linked, ${int(l.waiting)} waiting; p50 ${seconds(l.p50_seconds)}, p95 ${seconds(l.p95_seconds)}, p99 ${seconds(l.p99_seconds)}`;
      })
      .join('\n'),
  );

  section(
    'HEALTH  (ops.v_identity_gap_health)',
    renderTable(
      ['check', 'status', 'value', 'threshold'],
      d.health.map((h) => [h.check, upper(h.status), h.value === null ? '-' : String(h.value), h.threshold === null ? '-' : String(h.threshold)]),
      ['l', 'l', 'r', 'r'],
    ),
  );

  section(
    'TREND: % unresolved from the daily history  (ops.v_identity_gap_trend)',
    renderTable(
      ['period', 'then', 'now', 'change (pp)', 'unresolved change', 'matched in period', 'direction'],
      d.trend.map((t) => [
        t.period === '1d' ? 'today vs yesterday' : `today vs ${t.days} days ago`,
        dec(t.pct_unresolved_then),
        dec(t.pct_unresolved_now),
        signed(t.pct_unresolved_change),
        signed(t.unresolved_change, 0),
        int(t.matched_in_period),
        t.direction === 'no_history' ? 'no history yet' : t.direction,
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  );

  const failing = d.problems.filter((p) => p.status === 'fail');
  const warnings = d.problems.filter((p) => p.status === 'warn');
  if (d.problems.length > 0) {
    section(
      'WHAT TO DO',
      d.problems.map((p) => `  ${upper(p.status)} ${p.check}\n      ${p.action}`).join('\n'),
    );
  }
  out.push(
    failing.length === 0
      ? `VERDICT: OK${warnings.length ? ` (${warnings.length} warning${warnings.length > 1 ? 's' : ''}: ${warnings.map((w) => w.check).join(', ')})` : ''}`
      : `VERDICT: FAIL: ${failing.map((p) => p.check).join(', ')}${warnings.length ? `; ${warnings.length} warning${warnings.length > 1 ? 's' : ''}` : ''}`,
  );
  return `${out.join('\n')}\n`;
}
