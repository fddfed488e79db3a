import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type pg from 'pg';
import type { ApiOptions } from '../server.js';
import { microCache } from '../http.js';

interface Snapshot {
  gaps: { pct_unresolved: number; cells: Array<{ gap_reason: string; risk_level: string; leads: number }> };
  freshness: Array<{ task: string; last_success_epoch: number | null; seconds_since_last_success: number | null; matched_24h: number }>;
  health: Array<{ check: string; level: number }>;
  queue: Array<{ task: string; state: string; jobs: number }>;
  review: { queue_leads: string; accepted: string; rejected: string };
}

/* ops.v_identity_gap_totals, the one definition: its cells are zero-filled, so every unresolved reason x risk pair is a series and a drop to 0 is visible. */
const GAPS_SQL = `
select totals.pct_unresolved::float8 as pct_unresolved, totals.cells
from ops.v_identity_gap_totals as totals`;

async function readSnapshot(pool: pg.Pool): Promise<Snapshot> {
  const [gaps, freshness, health, queue, review] = await Promise.all([
    pool.query(GAPS_SQL),
    pool.query(`select freshness.task, extract(epoch from freshness.last_success_at)::float8 as last_success_epoch,
                       freshness.seconds_since_last_success, freshness.matched_24h
                from ops.v_task_freshness as freshness order by freshness.task`),
    pool.query(`select health."check", health.status_rank - 1 as level from ops.v_identity_gap_health as health`),
    pool.query(`select depth.task, depth.state, depth.jobs from ops.v_worker_queue_depth as depth`),
    /* Counts only (security definer): the queue's rows carry personal data and are not readable by this role. */
    pool.query(`select summary.queue_leads, summary.accepted, summary.rejected from ops.review_summary() as summary`),
  ]);
  return { gaps: gaps.rows[0], freshness: freshness.rows, health: health.rows, queue: queue.rows, review: review.rows[0] };
}

/** Buckets of idgap_lead_link_latency_seconds: from half a second (an idle worker) to 10 minutes. */
export const LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
/** Links written within this window before a scrape are read again, so a batch that commits late is still counted. */
const LATENCY_WINDOW_MS = 10 * 60 * 1000;

/**
 * Feeds the latency histogram from ops.v_lead_link_latency, each lead once: a scrape reads the leads linked since
 * max(process start, now - window) and observes those it has not seen; the seen set keeps the window's leads only.
 * Leads recorded more than an hour before the scrape are not read (a bounded scan of the work list; the summary
 * view ops.v_lead_link_latency_summary has the slow ones).
 */
export function latencyFeeder(pool: pg.Pool, observe: (seconds: number) => void): () => Promise<void> {
  const startedAt = Date.now();
  const seen = new Map<string, number>();
  return async () => {
    const since = Math.max(startedAt, Date.now() - LATENCY_WINDOW_MS);
    const { rows } = await pool.query<{ key: string; linked_ms: number; latency: number }>(
      `select latency.lead_id || '|' || latency.recorded_at::text as key,
              (extract(epoch from latency.linked_at) * 1000)::float8 as linked_ms,
              latency.latency_seconds::float8 as latency
         from ops.v_lead_link_latency as latency
        where latency.recorded_at >= now() - interval '1 hour'
          and latency.state = 'linked'
          and latency.linked_at >= to_timestamp($1::float8 / 1000)`,
      [since],
    );
    for (const r of rows) {
      if (seen.has(r.key)) continue;
      seen.set(r.key, r.linked_ms);
      observe(r.latency);
    }
    for (const [key, linked] of seen) if (linked < since) seen.delete(key);
  };
}

/**
 * Prometheus metrics (docs/api.md, Metrics). Each app has its own registry; the gauges read
 * the database when scraped, through one shared snapshot per scrape.
 */
export function registerMetricsRoutes(app: FastifyInstance, { pool }: ApiOptions): void {
  const registry = new Registry();

  /* One database read serves all the gauges of a scrape (and scrapes less than a second apart). */
  const cache = microCache<Snapshot>(1000, 1);
  const snapshot = () => cache('snapshot', () => readSnapshot(pool));

  new Gauge({
    name: 'idgap_gap_leads',
    help: 'Unresolved leads (the identity gap) by gap_reason and risk_level, from ops.v_identity_gap_totals.',
    labelNames: ['gap_reason', 'risk_level'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.gaps.cells) if (r.gap_reason !== 'resolved') this.set({ gap_reason: r.gap_reason, risk_level: r.risk_level }, r.leads);
    },
  });
  new Gauge({
    name: 'idgap_gap_pct_unresolved',
    help: 'Percentage of leads that are unresolved (0-100), from ops.v_identity_gap_totals.',
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.set(s.gaps.pct_unresolved);
    },
  });
  new Gauge({
    name: 'idgap_last_success_timestamp_seconds',
    help: 'Unix time when the last succeeded run of the task finished (ops.job_runs); 0 when it never succeeded.',
    labelNames: ['task'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.freshness) this.set({ task: r.task }, r.last_success_epoch ?? 0);
    },
  });
  new Gauge({
    name: 'idgap_seconds_since_last_success',
    help: 'Seconds since the last succeeded run of the task finished; +Inf when it never succeeded.',
    labelNames: ['task'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.freshness) this.set({ task: r.task }, r.seconds_since_last_success ?? Number.POSITIVE_INFINITY);
    },
  });
  new Gauge({
    name: 'idgap_matched_24h',
    help: 'Leads matched by retry_identity_matching runs started in the last 24 hours.',
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.set(s.freshness.find((r) => r.task === 'retry_identity_matching')?.matched_24h ?? 0);
    },
  });
  new Gauge({
    name: 'idgap_health_check_status',
    help: 'Status of each check of ops.v_identity_gap_health: 0 ok, 1 warn, 2 fail.',
    labelNames: ['check'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.health) this.set({ check: r.check }, r.level);
    },
  });
  new Gauge({
    name: 'idgap_queue_jobs',
    help: 'Graphile Worker jobs by task and state (runnable, locked, retrying, permanently_failed).',
    labelNames: ['task', 'state'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.queue) this.set({ task: r.task, state: r.state }, r.jobs);
    },
  });

  const latency: Histogram = new Histogram({
    name: 'idgap_lead_link_latency_seconds',
    help: 'Seconds from the moment the work list recorded a lead (ops.lead_changes) to its link, each lead counted once (ops.v_lead_link_latency).',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
    async collect() {
      await feedLatency();
    },
  });
  const feedLatency = latencyFeeder(pool, (seconds) => latency.observe(seconds));
  new Gauge({
    name: 'idgap_review_queue_leads',
    help: 'Leads waiting in the review queue (ops.v_identity_review_queue: unresolved, with at least one candidate not rejected).',
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.set(Number(s.review.queue_leads));
    },
  });
  new Counter({
    name: 'idgap_review_decisions_total',
    help: 'Review decisions taken, by decision (accept, reject), counted from ops.review_decisions: it survives restarts.',
    labelNames: ['decision'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      this.inc({ decision: 'accept' }, Number(s.review.accepted));
      this.inc({ decision: 'reject' }, Number(s.review.rejected));
    },
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
