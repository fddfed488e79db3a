import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { printJson, withContext } from '../context.js';

interface WeightRow {
  field: string;
  level: string;
  m: string;
  u: string;
  weight: string;
  method: string;
  m_pairs: string | null;
  u_pairs: string | null;
  estimated_at: Date;
}

const sampleSize = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 10) throw new InvalidArgumentError('--sample must be a whole number of at least 10');
  return n;
};

/** `idgap estimate-weights`: ops.estimate_match_weights (the Fellegi-Sunter weights of the near-key rules), printed. */
export function registerEstimateWeights(program: Command): void {
  program
    .command('estimate-weights')
    .description('re-estimate the Fellegi-Sunter weights of the near-key rules (ops.match_weights) from the data')
    .option('--sample <n>', 'leads (and drivers) sampled for the estimate (default 500)', sampleSize)
    .option('--json', 'print the weights as JSON on stdout')
    .action(async (opts: { sample?: number; json?: boolean }) => {
      await withContext({}, async ({ pool }) => {
        const started = Date.now();
        const { rows } = await pool.query<WeightRow>('select * from ops.estimate_match_weights($1)', [opts.sample ?? 500]);
        const weights = rows.map((r) => ({ field: r.field, level: r.level, m: Number(r.m), u: Number(r.u), weight: Number(r.weight), method: r.method,
          m_pairs: r.m_pairs === null ? null : Number(r.m_pairs), u_pairs: r.u_pairs === null ? null : Number(r.u_pairs), estimated_at: r.estimated_at }));
        if (opts.json) {
          printJson({ weights, duration_ms: Date.now() - started });
          return;
        }
        process.stdout.write('field      level       weight (bits)  m           u           method\n');
        for (const w of weights) {
          process.stdout.write(`${w.field.padEnd(10)} ${w.level.padEnd(11)} ${w.weight.toFixed(2).padStart(13)}  ${w.m.toPrecision(4).padEnd(11)} ${w.u.toPrecision(4).padEnd(11)} ${w.method}\n`);
        }
        process.stdout.write(`estimated in ${Date.now() - started} ms\n`);
      });
    });
}
