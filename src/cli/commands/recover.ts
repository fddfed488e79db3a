import type { Command } from 'commander';
import type pg from 'pg';
import { describeArgumentError, printJson, UserError, withContext } from '../context.js';
import type { RecoveryParams, RecoveryResult } from '../../recovery.js';

interface RecoverOptions {
  riskLevel?: string;
  gapReason?: string;
  dateFrom?: string;
  dateTo?: string;
  batchSize?: string;
  refreshIndex?: boolean;
  json?: boolean;
}

/** The payload keys as the user typed them. */
const ARGUMENT_NAMES: Record<string, string> = {
  limit: 'LIMIT',
  risk_level: '--risk-level',
  gap_reason: '--gap-reason',
  date_from: '--date-from',
  date_to: '--date-to',
  batch_size: '--batch-size',
  refresh_index: '--refresh-index',
};

export interface NothingDue {
  /** Leads of the selection that wait for their backoff (pending, next attempt in the future). */
  waiting: number;
  /** When the first of them is due (ISO 8601, UTC), or null. */
  next_due_at: string | null;
  /** Leads of the selection that failed after the maximum attempts (retried when the drivers index content changes). */
  failed: number;
}

/** Why a run found nothing due: the leads of the same selection still waiting for their backoff, and the failed ones. */
export async function nothingDue(pool: pg.Pool, p: RecoveryParams): Promise<NothingDue> {
  const { rows } = await pool.query<{ waiting: number; next_due_at: Date | null; failed: number }>(
    `select (count(*) filter (where jobs.status = 'pending' and jobs.next_attempt_at > now()))::integer as waiting,
            min(jobs.next_attempt_at) filter (where jobs.status = 'pending' and jobs.next_attempt_at > now()) as next_due_at,
            (count(*) filter (where jobs.status = 'failed'))::integer as failed
     from ops.v_identity_gap_analysis as analysis
     join ops.identity_matching_jobs as jobs
       on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = analysis.lead_id
     where analysis.gap_reason <> 'resolved'
       and ($1::text is null or analysis.risk_level = $1::text)
       and ($2::text is null or analysis.gap_reason = $2::text)
       and ($3::date is null or analysis.lead_date >= $3::date)
       and ($4::date is null or analysis.lead_date <= $4::date)`,
    [p.risk_level ?? null, p.gap_reason ?? null, p.date_from ?? null, p.date_to ?? null],
  );
  const r = rows[0]!;
  return { waiting: r.waiting, next_due_at: r.next_due_at ? r.next_due_at.toISOString() : null, failed: r.failed };
}

/** `2026-12-07 09:15 UTC`. */
const utc = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

export function describeNothingDue(n: NothingDue): string {
  const waiting =
    n.waiting > 0
      ? `${n.waiting} lead${n.waiting === 1 ? '' : 's'} wait${n.waiting === 1 ? 's' : ''} for ${n.waiting === 1 ? 'its' : 'their'} backoff; the next is due at ${utc(n.next_due_at!)}`
      : 'no lead waits for its backoff';
  const failed = n.failed > 0 ? `; ${n.failed} failed after the maximum attempts (retried when the drivers index content changes: idgap refresh-drivers-index)` : '';
  return `nothing was due: ${waiting}${failed}`;
}

function progressBar(done: number, total: number, width = 30): string {
  const ratio = total === 0 ? 1 : done / total;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} (${(ratio * 100).toFixed(0)}%)`;
}

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description('run one recovery now, in this process, with progress (the same work as the retry_identity_matching task)')
    .argument('[limit]', 'at most this many leads')
    .option('--risk-level <level>', 'only leads of this risk level: high, medium or low')
    .option('--gap-reason <reason>', 'only leads with this gap reason: no_identity, no_origin or inconsistent_origin')
    .option('--date-from <YYYY-MM-DD>', 'only leads created on or after this date')
    .option('--date-to <YYYY-MM-DD>', 'only leads created on or before this date')
    .option('--batch-size <n>', 'leads per batch (one transaction each)')
    .option('--refresh-index', 'rebuild the drivers index first')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (limit: string | undefined, opts: RecoverOptions) => {
      const raw = {
        limit,
        risk_level: opts.riskLevel,
        gap_reason: opts.gapReason,
        date_from: opts.dateFrom,
        date_to: opts.dateTo,
        batch_size: opts.batchSize,
        refresh_index: opts.refreshIndex,
      };
      const payload = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
      const { recoveryParamsSchema, runRecovery } = await import('../../recovery.js');
      const parsed = recoveryParamsSchema.safeParse(payload);
      if (!parsed.success) throw new UserError(describeArgumentError(parsed.error, ARGUMENT_NAMES, payload));
      const [{ poolClient, withRun }, { requestShutdown, shutdownRequested }] = await Promise.all([import('../../runs.js'), import('../../shutdown.js')]);
      await withContext({}, async ({ pool, log }) => {
        const tty = process.stderr.isTTY && !opts.json;
        const onSignal = () => {
          requestShutdown();
          process.stderr.write('\nstopping after the batch in flight…\n');
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        let result: RecoveryResult | undefined;
        const run = await withRun(poolClient(pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: parsed.data, trigger: 'cli', log }, async (params, { client, runId, log: runLog }) => {
          result = await runRecovery(client, runId, params, runLog, {
            shouldStop: shutdownRequested,
            secondConnection: poolClient(pool),
            onBatch: tty ? ({ done, candidates }) => void process.stderr.write(`\r${progressBar(done, candidates)}`) : undefined,
          });
          if (tty) process.stderr.write('\n');
          await client.query('select ops.snapshot_identity_gap()');
          return { stats: { candidates: result.candidates, batches: result.batches, errors: result.errors, index_refresh: result.indexRefresh ?? null } };
        });
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        const r = result!;
        const summary = {
          run_id: run.runId,
          candidates: r.candidates,
          processed: r.processed,
          matched: r.matched,
          failed: r.failed,
          pending: r.pending,
          skipped: r.skipped,
          errors: r.errors,
          batches: r.batches,
          seconds: Number((r.durationMs / 1000).toFixed(3)),
          leads_per_second: r.durationMs > 0 ? Math.round((r.processed * 1000) / r.durationMs) : r.processed,
          nothing_due: r.candidates === 0 ? await nothingDue(pool, parsed.data) : undefined,
        };
        if (opts.json) printJson(summary);
        else
          process.stdout.write(
            `run ${summary.run_id}: processed=${summary.processed} matched=${summary.matched} failed=${summary.failed} pending=${summary.pending} skipped=${summary.skipped} in ${summary.seconds} s\n` +
              (summary.nothing_due ? `${describeNothingDue(summary.nothing_due)}\n` : ''),
          );
      });
    });
}
