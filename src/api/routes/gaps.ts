import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiOptions } from '../server.js';
import { isoDate, microCache, pageMeta, pagination, parseParams } from '../http.js';

const GAP_REASONS = ['no_identity', 'no_origin', 'inconsistent_origin', 'resolved'] as const;
const RISK_LEVELS = ['high', 'medium', 'low'] as const;
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
    risk_level: z.enum(RISK_LEVELS, { message: `must be one of ${RISK_LEVELS.join(', ')}` }).optional(),
    gap_reason: z.enum(GAP_REASONS, { message: `must be one of ${GAP_REASONS.join(', ')}` }).optional(),
    ...pagination,
  })
  .strict()
  .refine(dateRange, { message: 'must not be after date_to', path: ['date_from'] });

export const alertsQuerySchema = z
  .object({
    alert_type: z.enum(ALERT_TYPES, { message: `must be one of ${ALERT_TYPES.join(', ')}` }).optional(),
    ...pagination,
  })
  .strict();

const noParams = z.object({}).strict();

export const historyQuerySchema = z
  .object({
    days: z
      .string({ message: 'must be a whole number' })
      .regex(/^\d+$/, { message: 'must be a whole number between 1 and 365' })
      .transform(Number)
      .pipe(z.number().int().min(1, { message: 'must be between 1 and 365' }).max(365, { message: 'must be between 1 and 365' }))
      .default(30),
  })
  .strict();

export const failReasonsQuerySchema = z
  .object({
    limit: z
      .string({ message: 'must be a whole number' })
      .regex(/^\d+$/, { message: 'must be a whole number between 1 and 50' })
      .transform(Number)
      .pipe(z.number().int().min(1, { message: 'must be between 1 and 50' }).max(50, { message: 'must be between 1 and 50' }))
      .default(10),
  })
  .strict();

/*
 * One aggregate over the gap view gives the totals, the breakdown and the number
 * of items the filters select. The view is computed over every lead, so under
 * load identical queries are served from a 2-second micro-cache (concurrent
 * identical requests share one database query).
 */
const SUMMARY_SQL = `
with filtered as (
  select analysis.gap_reason, analysis.risk_level, analysis.risk_rank
  from ops.v_identity_gap_analysis as analysis
  where ($1::date is null or analysis.lead_date >= $1::date)
    and ($2::date is null or analysis.lead_date <= $2::date)
),
grouped as (
  select filtered.gap_reason, filtered.risk_level, filtered.risk_rank, count(*)::integer as leads
  from filtered
  group by filtered.gap_reason, filtered.risk_level, filtered.risk_rank
)
select coalesce(sum(grouped.leads), 0)::integer as total,
       coalesce(sum(grouped.leads) filter (where grouped.gap_reason <> 'resolved'), 0)::integer as unresolved,
       coalesce(sum(grouped.leads) filter (where grouped.gap_reason = 'resolved'), 0)::integer as resolved,
       coalesce(round(100.0 * sum(grouped.leads) filter (where grouped.gap_reason <> 'resolved') / nullif(sum(grouped.leads), 0), 2), 0)::float8 as pct_unresolved,
       coalesce(sum(grouped.leads) filter (where grouped.gap_reason <> 'resolved' and grouped.risk_level = 'high'), 0)::integer as high_risk,
       coalesce(sum(grouped.leads) filter (
         where (case when $4::text is null then grouped.gap_reason <> 'resolved' else grouped.gap_reason = $4::text end)
           and ($3::text is null or grouped.risk_level = $3::text)), 0)::integer as total_items,
       coalesce(jsonb_agg(jsonb_build_object('gap_reason', grouped.gap_reason, 'risk_level', grouped.risk_level, 'leads', grouped.leads)
                          order by grouped.gap_reason, grouped.risk_rank desc)
                filter (where grouped.gap_reason <> 'resolved'), '[]'::jsonb) as breakdown
from grouped`;

const ITEMS_SQL = `
select analysis.lead_id, analysis.lead_date, analysis.person_key, analysis.has_identity, analysis.has_origin,
       analysis.is_repeat_lead, analysis.gap_reason, analysis.gap_age_days, analysis.risk_level, analysis.risk_rank,
       analysis.trips_14d::float8 as trips_14d
from ops.v_identity_gap_analysis as analysis
where ($1::date is null or analysis.lead_date >= $1::date)
  and ($2::date is null or analysis.lead_date <= $2::date)
  and ($3::text is null or analysis.risk_level = $3::text)
  and (case when $4::text is null then analysis.gap_reason <> 'resolved' else analysis.gap_reason = $4::text end)
order by analysis.risk_rank desc, analysis.gap_age_days desc nulls last, analysis.lead_id
limit $5 offset $6`;

interface SummaryRow {
  total: number;
  unresolved: number;
  resolved: number;
  pct_unresolved: number;
  high_risk: number;
  total_items: number;
  breakdown: Array<{ gap_reason: string; risk_level: string; leads: number }>;
}

export function registerGapRoutes(app: FastifyInstance, { pool }: ApiOptions): void {
  const cache = microCache<unknown>(2000);

  app.get('/api/v1/ops/identity-gaps', async (req) => {
    const q = parseParams(gapsQuerySchema, req.query);
    const filters = [q.date_from ?? null, q.date_to ?? null, q.risk_level ?? null, q.gap_reason ?? null];
    const key = JSON.stringify(['gaps', ...filters, q.page, q.page_size]);
    return cache(key, async () => {
      const [summary, items] = await Promise.all([
        pool.query<SummaryRow>(SUMMARY_SQL, filters),
        pool.query(ITEMS_SQL, [...filters, q.page_size, (q.page - 1) * q.page_size]),
      ]);
      const { total_items, breakdown, ...totals } = summary.rows[0]!;
      return { totals, breakdown, items: items.rows, meta: pageMeta(q.page, q.page_size, total_items) };
    });
  });

  app.get('/api/v1/ops/identity-gaps/alerts', async (req) => {
    const q = parseParams(alertsQuerySchema, req.query);
    const key = JSON.stringify(['alerts', q.alert_type ?? null, q.page, q.page_size]);
    return cache(key, async () => {
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
           order by alerts.severity_rank desc, alerts.days_open desc nulls last, alerts.lead_id, alerts.alert_type
           limit $2 offset $3`,
          [q.alert_type ?? null, q.page_size, (q.page - 1) * q.page_size],
        ),
      ]);
      const totalItems = counts.rows.filter((r) => !q.alert_type || r.alert_type === q.alert_type).reduce((n, r) => n + r.alerts, 0);
      return { counts: counts.rows, items: items.rows, meta: pageMeta(q.page, q.page_size, totalItems) };
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
      `select jobs.fail_reason,
              count(*)::integer as leads,
              count(*) filter (where jobs.status = 'pending')::integer as pending,
              count(*) filter (where jobs.status = 'failed')::integer as failed,
              round(avg(jobs.attempt_count), 2)::float8 as avg_attempts,
              max(jobs.attempt_count)::integer as max_attempts,
              max(jobs.last_attempt_at) as last_attempt_at
       from ops.identity_matching_jobs as jobs
       where jobs.fail_reason is not null and jobs.status in ('pending', 'failed')
       group by jobs.fail_reason
       order by leads desc, jobs.fail_reason
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
