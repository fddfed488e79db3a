import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { printJson, selectedEmbeddedDatabase, UserError, withContext } from '../context.js';
import type { PipelineResult } from '../../demo/pipeline.js';

export const DEMO_DATABASE = 'idgap_demo';

/** Drops and recreates the demo database on the embedded cluster (never the user's `idgap` database). */
async function recreateDatabase(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists ${DEMO_DATABASE} with (force)`);
    await client.query(`create database ${DEMO_DATABASE} template template0 encoding 'UTF8' locale 'C'`);
  } finally {
    await client.end();
  }
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
const secs = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;

function report(r: PipelineResult, totalMs: number, generateMs: number): string {
  const q = r.quality;
  const lines = [
    `Identity gap recovery demo (database ${DEMO_DATABASE})`,
    '',
    `Data    leads ${r.imports.leads.loaded}, drivers ${r.imports.drivers.loaded}, activity rows ${r.imports.activity.loaded}, planted links ${r.planted.links} (${r.planted.origins} with a wrong origin)`,
    `Gap     before: ${r.gap_before.unresolved}/${r.gap_before.total} unresolved (${r.gap_before.pct_unresolved}%): no_identity ${r.gap_before.no_identity}, no_origin ${r.gap_before.no_origin}, inconsistent_origin ${r.gap_before.inconsistent_origin}`,
    `        after:  ${r.gap_after.unresolved}/${r.gap_after.total} unresolved (${r.gap_after.pct_unresolved}%): no_identity ${r.gap_after.no_identity}, no_origin ${r.gap_after.no_origin}, inconsistent_origin ${r.gap_after.inconsistent_origin}`,
    `Run     #${r.recovery.run_id}: processed ${r.recovery.processed}, matched ${r.recovery.matched}, pending ${r.recovery.pending}, failed ${r.recovery.failed}, skipped ${r.recovery.skipped}, ${r.recovery.batches} batches`,
    `Quality precision ${pct(q.precision)} (${q.correct_links}/${q.links_made} links correct, ${q.wrong_links} wrong), recall ${pct(q.recall)} (${q.recovered}/${q.recoverable} recoverable leads), links on planted ambiguous leads: ${q.links_on_ambiguous}`,
    `Timing  generate ${secs(generateMs)}, import ${secs((r.timings_ms.import_leads ?? 0) + (r.timings_ms.import_drivers ?? 0) + (r.timings_ms.import_activity ?? 0))}, index refresh ${secs(r.timings_ms.refresh_index)}, recovery ${secs(r.timings_ms.recovery)}, total ${secs(totalMs)}`,
    '',
    'Per planted case (leads, recoverable, recovered, links, wrong, outcome as expected):',
    ...q.by_case.map((c) => `  ${c.key.padEnd(24)} ${String(c.leads).padStart(7)} ${String(c.recoverable).padStart(7)} ${String(c.recovered).padStart(7)} ${String(c.links).padStart(7)} ${String(c.wrong_links).padStart(5)} ${String(c.expected_outcome).padStart(7)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** What to run next to look at the demo's data (its own database: every command takes --database). */
export function nextCommands(): string[] {
  const db = `--database ${DEMO_DATABASE}`;
  return [
    `npx idgap ${db} diagnose`,
    `npx idgap ${db} recover`,
    `npx idgap ${db} start`,
  ];
}

function nextSteps(): string {
  const [diagnose, recover, start] = nextCommands();
  return [
    `The demo's data stays in the database ${DEMO_DATABASE} (until the next demo). To explore it:`,
    `  ${diagnose}    # the diagnosis again`,
    `  ${recover}     # one more recovery run`,
    `  ${start}       # the worker, the API and the dashboard on http://127.0.0.1:8000/`,
    `Without --database, idgap uses its own database (idgap), which the demo never touches.`,
    '',
  ].join('\n');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      `the whole system in one command: on the embedded PostgreSQL, a fresh database "${DEMO_DATABASE}" (dropped and recreated each time; ` +
        'your idgap database is never touched), synthetic data, import, planted links, index refresh, recovery, snapshot, and precision/recall against the truth. ' +
        'Refuses to run when DATABASE_URL is set (unset it: the demo only uses the embedded server under .idgap/ or $IDGAP_HOME).',
    )
    .option('--leads <n>', 'synthetic leads', '20000')
    .option('--drivers <n>', 'synthetic drivers (default: as many as leads)')
    .option('--seed <s>', 'generator seed', '1')
    .option('--batch-size <n>', 'leads per recovery batch, one transaction each (the engine\'s default; bench/results/perf.md measures it)', '5000')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: { leads: string; drivers?: string; seed: string; batchSize: string; json?: boolean }) => {
      const num = (flag: string, v: string, min: number) => {
        if (!/^\d+$/.test(v) || Number(v) < min) throw new UserError(`${flag} must be a whole number >= ${min} (got ${JSON.stringify(v)})`);
        return Number(v);
      };
      const leads = num('--leads', opts.leads, 1);
      const drivers = num('--drivers', opts.drivers ?? opts.leads, 1);
      const seed = num('--seed', opts.seed, 0);
      const batchSize = num('--batch-size', opts.batchSize, 1);
      const chosen = selectedEmbeddedDatabase();
      if (chosen !== undefined && chosen !== DEMO_DATABASE) {
        throw new UserError(`the demo always uses its own database ${DEMO_DATABASE} (it drops and recreates it): leave out --database ${chosen}`);
      }
      const { loadConfig } = await import('../../config.js');
      if (loadConfig().DATABASE_URL) {
        throw new UserError('idgap demo runs only on the embedded PostgreSQL (it drops and recreates its own database); unset DATABASE_URL to run it');
      }
      const [{ generate }, { migrateDatabase }, { runPipeline }, { readDiagnosis, renderDiagnosis }] = await Promise.all([
        import('../../generate/generate.js'),
        import('../../migrate.js'),
        import('../../demo/pipeline.js'),
        import('../../diagnose.js'),
      ]);
      const started = Date.now();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'idgap-demo-'));
      try {
        await withContext({ embeddedDatabase: DEMO_DATABASE, migrate: false, poolSize: 4 }, async ({ db, pool, log }) => {
          await recreateDatabase(db.connectionString);
          await migrateDatabase(db.connectionString, log);
          const gen = await generate({ leads, drivers, seed, out: dir });
          log.info({ event: 'demo.generated', leads: gen.counts.leads, drivers: gen.counts.drivers, duration_ms: gen.duration_ms }, 'synthetic data generated');
          const result = await runPipeline(pool, dir, log, { batchSize });
          const totalMs = Date.now() - started;
          const diagnosis = await readDiagnosis(pool);
          if (opts.json) printJson({ database: DEMO_DATABASE, generate_ms: gen.duration_ms, total_ms: totalMs, ...result, diagnosis, next_commands: nextCommands() });
          else process.stdout.write(`${report(result, totalMs, gen.duration_ms)}\n${renderDiagnosis(diagnosis)}\n${nextSteps()}`);
          const broken = Object.entries(result.invariants).filter(([, n]) => n > 0);
          if (broken.length) throw new UserError(`invariants violated: ${broken.map(([k, n]) => `${k}=${n}`).join(', ')}`);
          if (result.recovery.matched === 0) throw new UserError('the recovery matched nothing');
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}
