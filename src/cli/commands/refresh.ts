import type { Command } from 'commander';
import { printJson, withContext } from '../context.js';
import type { RefreshResult } from '../../recovery.js';

export function registerRefresh(program: Command): void {
  program
    .command('refresh-drivers-index')
    .description('rebuild canon.drivers_index from public.drivers now (records a run)')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: { json?: boolean }) => {
      const [{ refreshDriversIndex }, { poolClient, withRun }, { refreshParamsSchema }] = await Promise.all([
        import('../../recovery.js'),
        import('../../runs.js'),
        import('../../payloads.js'),
      ]);
      await withContext({}, async ({ pool, log }) => {
        let result: RefreshResult | undefined;
        const started = Date.now();
        const run = await withRun(poolClient(pool), { task: 'refresh_drivers_index', schema: refreshParamsSchema, payload: {}, trigger: 'cli', log }, async (_p, { client }) => {
          result = await refreshDriversIndex(client);
          return { stats: { ...result } };
        });
        const out = { run_id: run.runId, ...result!, duration_ms: Date.now() - started };
        if (opts.json) printJson(out);
        else process.stdout.write(`drivers index: ${out.total} drivers (inserted ${out.inserted}, updated ${out.updated}, deleted ${out.deleted}) in ${out.duration_ms} ms\n`);
      });
    });
}
