import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiOptions } from '../server.js';
import { pageMeta, pagination, parseParams, swrCache } from '../http.js';
import { isoDate, leadGapReason, riskLevel, wholeNumber } from '../../payloads.js';

const ALERT_TYPES = ['over_24h_no_identity', 'over_7d_unresolved', 'inconsistent_origin'] as const;

const dateRange = <T extends { date_from?: string; date_to?: string }>(p: T) => !p.date_from || !p.date_to || p.date_from <= p.date_to;

/**
 * gap_reason accepts 'resolved' too: the list is of unresolved leads unless
 * gap_reason=resolved asks for the resolved ones (an audit of what recovery linked).
 * totals and breakdown describe the leads of the date window, whatever the other filters.
 */
export const gapsQuerySchema = z
  .object({
    date_from: isoDate.optional(),
    date_to: isoDate.optional(),
    risk_level: riskLevel.optional(),
    gap_reason: leadGapReason.optional(),
    ...pagination,
  })
  .strict()
  .refine(dateRange, { message: 'must not be after date_to', path: ['date_from'] });

export const alertsQuerySchema = z
  .object({
    alert_type: z.enum(ALERT_TYPES, { message: `must be one of ${ALERT_TYPES.join(', ')}` }).optional(),
    /* urgent: highest severity, longest open first; newest: the most recently opened first (the dashboard's list). */
    order: z.enum(['urgent', 'newest'], { message: 'must be urgent or newest' }).default('urgent'),
    ...pagination,
  })
  .strict();

const noParams = z.object({}).strict();

export const historyQuerySchema = z
  .object({
    days: wholeNumber(1, 365).default(30),
  })
  .strict();

export const failReasonsQuerySchema = z
  .object({
    limit: wholeNumber(1, 50).default(10),
  })
  .strict();

/*
 * The gap view is computed over every lead (about 0.3 s at 100,000 leads), so
 * the list is read in three set-based steps, each cached (see swrCache):
 * 1. one aggregate per date window (ops.identity_gap_totals): totals, and the
 *    count of every reason x risk pair, zeros included (the breakdown, and the
 *    item count of any filter is a sum of those);
 * 2. the ordered lead ids (LIMIT/OFFSET on the view, cheap columns only): the
 *    first 1000 of a filter in one read that serves every page inside them,
 *    deeper pages with their own LIMIT/OFFSET;
 * 3. the page's rows by lead id (index lookups; trips_14d computed for the
 *    page's rows only, not for every lead).
 */
const SUMMARY_SQL = `
select totals.total_leads as total, totals.unresolved, totals.resolved, totals.pct_unresolved::float8 as pct_unresolved,
       totals.risk_high as high_risk, totals.cells as groups
from ops.identity_gap_totals($1::date, $2::date) as totals`;

const PAGE_IDS_SQL = `
select analysis.lead_id
from ops.v_identity_gap_analysis as analysis
where ($1::date is null or analysis.lead_date >= $1::date)
  and ($2::date is null or analysis.lead_date <= $2::date)
  and ($3::text is null or analysis.risk_level = $3::text)
  and (case when $4::text is null then analysis.gap_reason <> 'resolved' else analysis.gap_reason = $4::text end)
order by analysis.risk_rank desc, analysis.gap_age_days desc nulls last, analysis.lead_id
limit $5 offset $6`;

const ROWS_SQL = `
select analysis.lead_id, analysis.lead_date, analysis.person_key, analysis.has_identity, analysis.has_origin,
       analysis.is_repeat_lead, analysis.gap_reason, analysis.gap_age_days, analysis.risk_level, analysis.risk_rank,
       analysis.trips_14d::float8 as trips_14d
from ops.v_identity_gap_analysis as analysis
where analysis.lead_id = any($1::text[])
order by analysis.risk_rank desc, analysis.gap_age_days desc nulls last, analysis.lead_id`;

type Group = { gap_reason: string; risk_level: string; leads: number };
interface Summary {
  totals: { total: number; unresolved: number; resolved: number; pct_unresolved: number; high_risk: number };
  groups: Group[];
  as_of: string;
}

/* Pages inside the first WINDOW items of a filter are sliced from one ordered read of them. */
const WINDOW = 1000;

export function registerGapRoutes(app: FastifyInstance, { pool, log }: ApiOptions): void {
  const onError = (e: Error) => log.warn({ event: 'api.refresh_failed', error: e.message }, `background refresh failed: ${e.message}`);
  /* Reads that evaluate the whole gap view: at most 2 at a time, each key refreshed at most every 10 s. */
  const heavy = swrCache<unknown>({ freshMs: 10_000, maxStaleMs: 120_000, concurrency: 2, onError });
  /* Index lookups of a page's rows by lead id. */
  const light = swrCache<unknown>({ freshMs: 10_000, maxStaleMs: 120_000, concurrency: 4, onError });

  const summaryOf = (dateFrom: string | null, dateTo: string | null) =>
    heavy(JSON.stringify(['summary', dateFrom, dateTo]), async () => {
      const { rows } = await pool.query(SUMMARY_SQL, [dateFrom, dateTo]);
      const { groups, ...totals } = rows[0] as Summary['totals'] & { groups: Group[] };
      return { totals, groups, as_of: new Date().toISOString() } satisfies Summary;
    }) as Promise<Summary>;

  const idsOf = (filters: readonly (string | null)[], limit: number, offset: number) =>
    heavy(JSON.stringify(['ids', ...filters, limit, offset]), async () => {
      const { rows } = await pool.query<{ lead_id: string }>(PAGE_IDS_SQL, [...filters, limit, offset]);
      return { ids: rows.map((r) => r.lead_id), as_of: new Date().toISOString() };
    }) as Promise<{ ids: string[]; as_of: string }>;

  app.get('/api/v1/ops/identity-gaps', async (req) => {
    const q = parseParams(gapsQuerySchema, req.query);
    const filters = [q.date_from ?? null, q.date_to ?? null, q.risk_level ?? null, q.gap_reason ?? null] as const;
    const offset = (q.page - 1) * q.page_size;
    const [summary, page] = await Promise.all([
      summaryOf(filters[0], filters[1]),
      light(JSON.stringify(['page', ...filters, q.page, q.page_size]), async () => {
        const inWindow = offset + q.page_size <= WINDOW;
        const read = inWindow ? await idsOf(filters, WINDOW, 0) : await idsOf(filters, q.page_size, offset);
        const ids = inWindow ? read.ids.slice(offset, offset + q.page_size) : read.ids;
        const rows = ids.length === 0 ? [] : (await pool.query(ROWS_SQL, [ids])).rows;
        return { items: rows, as_of: read.as_of };
      }) as Promise<{ items: unknown[]; as_of: string }>,
    ]);
    const selected = (g: Group) =>
      (q.gap_reason ? g.gap_reason === q.gap_reason : g.gap_reason !== 'resolved') && (!q.risk_level || g.risk_level === q.risk_level);
    const totalItems = summary.groups.filter(selected).reduce((n, g) => n + g.leads, 0);
    return {
      totals: summary.totals,
      breakdown: summary.groups.filter((g) => g.gap_reason !== 'resolved' && g.leads > 0),
      items: page.items,
      meta: { ...pageMeta(q.page, q.page_size, totalItems), as_of: summary.as_of < page.as_of ? summary.as_of : page.as_of },
    };
  });

  app.get('/api/v1/ops/identity-gaps/alerts', async (req) => {
    const q = parseParams(alertsQuerySchema, req.query);
    const key = JSON.stringify(['alerts', q.alert_type ?? null, q.order, q.page, q.page_size]);
    return heavy(key, async () => {
      const [counts, items] = await Promise.all([
        pool.query<{ alert_type: string; severity: string; alerts: number }>(
          `select alerts.alert_type, alerts.severity, count(*)::integer as alerts
           from ops.v_identity_gap_alerts as alerts
           group by alerts.alert_type, alerts.severity, alerts.severity_rank
           order by alerts.severity_rank desc, alerts.alert_type`,
        ),
        pool.query(
          `select alerts.lead_id, alerts.alert_type, alerts.severity, alerts.severity_rank, alerts.days_open, alerts.suggested_action
           from ops.v_identity_gap_alerts as alerts
           where $1::text is null or alerts.alert_type = $1::text
           order by case when $4::text = 'urgent' then alerts.severity_rank end desc,
                    case when $4::text = 'urgent' then alerts.days_open end desc nulls last,
                    case when $4::text = 'newest' then alerts.days_open end asc nulls last,
                    alerts.severity_rank desc, alerts.lead_id, alerts.alert_type
           limit $2 offset $3`,
          [q.alert_type ?? null, q.page_size, (q.page - 1) * q.page_size, q.order],
        ),
      ]);
      const totalItems = counts.rows.filter((r) => !q.alert_type || r.alert_type === q.alert_type).reduce((n, r) => n + r.alerts, 0);
      return { counts: counts.rows, items: items.rows, meta: { ...pageMeta(q.page, q.page_size, totalItems), as_of: new Date().toISOString() } };
    });
  });

  app.get('/api/v1/ops/identity-gaps/health', async (req) => {
    parseParams(noParams, req.query);
    const { rows } = await pool.query<{ check: string; status: string; value: number | null; threshold: number | null; hint: string; status_rank: number; overall: string }>(
      `select health."check", health.status, health.value::float8 as value, health.threshold::float8 as threshold, health.hint, health.status_rank,
              case max(health.status_rank) over () when 3 then 'fail' when 2 then 'warn' else 'ok' end as overall
       from ops.v_identity_gap_health as health`,
    );
    return { status: rows[0]?.overall ?? 'ok', checks: rows.map(({ overall: _overall, ...check }) => check) };
  });

  app.get('/api/v1/ops/identity-gaps/history', async (req) => {
    const q = parseParams(historyQuerySchema, req.query);
    const { rows } = await pool.query(
      `select daily.snapshot_date, daily.total_leads, daily.unresolved, daily.resolved, daily.pct_unresolved::float8 as pct_unresolved,
              daily.no_identity, daily.no_origin, daily.inconsistent_origin, daily.risk_high, daily.risk_medium, daily.risk_low,
              daily.matched_in_day, daily.runs_in_day, daily.taken_at
       from ops.identity_gap_daily as daily
       where daily.snapshot_date > (now() at time zone 'utc')::date - $1::integer
       order by daily.snapshot_date`,
      [q.days],
    );
    return { days: q.days, items: rows };
  });

  app.get('/api/v1/ops/identity-gaps/fail-reasons', async (req) => {
    const q = parseParams(failReasonsQuerySchema, req.query);
    const { rows } = await pool.query(
      `select reasons.fail_reason, reasons.leads, reasons.pending, reasons.failed, reasons.avg_attempts::float8 as avg_attempts,
              reasons.max_attempts, reasons.last_attempt_at
       from ops.v_diag_fail_reasons as reasons
       order by reasons.leads desc, reasons.fail_reason
       limit $1`,
      [q.limit],
    );
    return { items: rows };
  });

  app.get('/api/v1/ops/identity-gaps/freshness', async (req) => {
    parseParams(noParams, req.query);
    const { rows } = await pool.query(
      `select wanted.task, coalesce(freshness.freshness, 'NEVER') as status, freshness.last_success_at,
              round((freshness.seconds_since_last_success / 3600)::numeric, 2)::float8 as hours_since_last_success,
              coalesce(freshness.stale_hours, ops.setting_integer('alert_job_stale_hours')) as stale_hours,
              coalesce(freshness.runs_24h, 0) as runs_24h, coalesce(freshness.matched_24h, 0) as matched_24h
       from (select 'retry_identity_matching'::text as task) as wanted
       left join ops.v_task_freshness as freshness on freshness.task = wanted.task`,
    );
    return rows[0];
  });
}
