import type { Command } from 'commander';
import { printJson, UserError, withContext } from '../context.js';

export function registerSnapshot(program: Command): void {
  program
    .command('snapshot')
    .description("write the day's row of the gap history (ops.identity_gap_daily)")
    .option('--date <YYYY-MM-DD>', 'the day to write (default: today, UTC)')
    .option('--json', 'print the row as JSON on stdout')
    .action(async (opts: { date?: string; json?: boolean }) => {
      const [{ poolClient, withRun }, { snapshotParamsSchema }] = await Promise.all([import('../../runs.js'), import('../../payloads.js')]);
      const parsed = snapshotParamsSchema.safeParse(opts.date ? { date: opts.date } : {});
      if (!parsed.success) throw new UserError(`--date ${parsed.error.issues[0]!.message} (got ${JSON.stringify(opts.date)})`);
      await withContext({}, async ({ pool, log }) => {
        let row: Record<string, string | number> = {};
        await withRun(poolClient(pool), { task: 'snapshot_identity_gap', schema: snapshotParamsSchema, payload: parsed.data, trigger: 'cli', log }, async (p, { client }) => {
          const { rows } = await client.query('select * from ops.snapshot_identity_gap($1::date)', [p.date ?? null]);
          row = rows[0];
          return { stats: { snapshot_date: row.snapshot_date } };
        });
        const out: Record<string, string | number> = { ...row, pct_unresolved: Number(row.pct_unresolved) };
        if (opts.json) printJson(out);
        else process.stdout.write(`gap history ${out.snapshot_date}: ${out.unresolved}/${out.total_leads} unresolved (${out.pct_unresolved}%)\n`);
      });
    });
}
