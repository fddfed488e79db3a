import type { Command } from 'commander';
import { printJson, UserError } from '../context.js';

const whole = (flag: string, v: string): number => {
  if (!/^\d+$/.test(v.trim())) throw new UserError(`${flag} must be a whole number >= 0 (got ${JSON.stringify(v)})`);
  return Number(v);
};

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description(
      'write synthetic, deterministic CSVs (leads.csv, drivers.csv, activity.csv) with every planted case of docs/synthetic-data.md, ' +
        'truth.csv (the true driver and expected outcome of each lead) and links.csv / origins.csv (planted links without origin); no database needed',
    )
    .requiredOption('--leads <n>', 'number of leads')
    .requiredOption('--drivers <n>', 'number of drivers')
    .option('--seed <s>', 'seed: the same seed gives the same bytes', '1')
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (opts: { leads: string; drivers: string; seed: string; out: string; json?: boolean }) => {
      const leads = whole('--leads', opts.leads);
      const drivers = whole('--drivers', opts.drivers);
      const seed = whole('--seed', opts.seed);
      if (seed > 0xffffffff) throw new UserError('--seed must be below 4294967296');
      const { generate } = await import('../../generate/generate.js');
      const result = await generate({ leads, drivers, seed, out: opts.out });
      if (opts.json) return printJson(result);
      const c = result.counts;
      process.stdout.write(
        `wrote ${c.leads} leads, ${c.drivers} drivers, ${c.activity} activity rows, ${c.links} planted links to ${result.out} ` +
          `(${c.recoverable} recoverable leads) in ${(result.duration_ms / 1000).toFixed(1)} s\n`,
      );
    });
}
