import type { Command } from 'commander';
import { printJson, UserError, withContext } from '../context.js';
import { recoveryParamsSchema, runRecovery, type RecoveryResult } from '../../recovery.js';
import { describeZodError, poolClient, withRun } from '../../runs.js';
import { requestShutdown, shutdownRequested } from '../../shutdown.js';

interface RecoverOptions {
  riskLevel?: string;
  gapReason?: string;
  dateFrom?: string;
  dateTo?: string;
  batchSize?: string;
  refreshIndex?: boolean;
  json?: boolean;
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
      const parsed = recoveryParamsSchema.safeParse(payload);
      if (!parsed.success) throw new UserError(`invalid arguments: ${describeZodError(parsed.error)}`);
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
        };
        if (opts.json) printJson(summary);
        else
          process.stdout.write(
            `run ${summary.run_id}: processed=${summary.processed} matched=${summary.matched} failed=${summary.failed} pending=${summary.pending} skipped=${summary.skipped} in ${summary.seconds} s\n`,
          );
      });
    });
}
