import type { Command } from 'commander';
import { printJson, UserError, withContext } from '../context.js';

export function registerDiagnose(program: Command): void {
  program
    .command('diagnose')
    .description('the runbook diagnosis: gap, breakdown, freshness, fail reasons, 24 h volume, integrity, health checks and trend (the ops.v_diag_* views)')
    .option('--json', 'print the diagnosis as one JSON document on stdout')
    .option('--check', 'exit 1 when a health or integrity check fails (warnings do not), for cron and monitors')
    .action(async (opts: { json?: boolean; check?: boolean }) => {
      const { failingChecks, readDiagnosis, renderDiagnosis } = await import('../../diagnose.js');
      await withContext({}, async ({ pool }) => {
        const diagnosis = await readDiagnosis(pool);
        if (opts.json) printJson(diagnosis);
        else process.stdout.write(renderDiagnosis(diagnosis));
        const failing = failingChecks(diagnosis);
        if (opts.check && failing.length > 0) {
          throw new UserError(`${failing.length} check${failing.length > 1 ? 's' : ''} failing: ${failing.join(', ')}`);
        }
      });
    });
}
