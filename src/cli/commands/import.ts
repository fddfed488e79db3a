import { accessSync, constants, statSync } from 'node:fs';
import type { Command } from 'commander';
import { printJson, UserError, withContext } from '../context.js';
import type { ImportSummary } from '../../import/import.js';
import { IMPORT_KINDS, type ImportKind } from '../../import/kinds.js';

/** The file is checked before the database starts: a wrong path is said at once, not after the server's start-up. */
function checkReadable(file: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
    accessSync(file, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UserError(`cannot read ${file}: ${why} (nothing was changed)`);
  }
  if (!isFile) throw new UserError(`cannot read ${file}: not a file (nothing was changed)`);
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'bulk-load a CSV file (header row, UTF-8) into public.module_ct_cabinet_leads (leads), public.drivers (drivers) or public.summary_daily (activity); ' +
        'every line is loaded or written with its line number and reason beside the file (leads.csv -> leads.rejects.csv); ' +
        'records are read as RFC 4180 (a quoted field may span lines; a broken record, e.g. a quote never closed or over 4 MB, is rejected whole with its lines); ' +
        'rejected too: a timestamp or date not strictly ISO or not in the calendar (hour 24, 2024-02-30, year 0000), a leads external_id written as a whole number (it could be another lead\'s id); ' +
        'values starting with = + - @ are written to the rejects file behind a \' (spreadsheet formulas stay text); ' +
        'a rerun of the same file changes nothing; a file that cannot be read as CSV (empty, binary, not UTF-8, CR-only line endings, missing column) changes nothing; ' +
        'leads and drivers: the changes are recorded for recovery as data arrives without queuing a job per row, and one recover_arrivals job is queued after the load',
    )
    .argument('<kind>', `what the file holds: ${IMPORT_KINDS.join(', ')}`)
    .argument('<file>', 'the CSV file')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (kind: string, file: string, opts: { json?: boolean }) => {
      if (!(IMPORT_KINDS as readonly string[]).includes(kind)) throw new UserError(`unknown kind ${JSON.stringify(kind)}: use ${IMPORT_KINDS.join(', ')}`);
      checkReadable(file);
      const { ImportError, importCsv } = await import('../../import/import.js');
      await withContext({}, async ({ pool, log }) => {
        const tty = process.stderr.isTTY && !opts.json;
        let summary: ImportSummary;
        try {
          summary = await importCsv(pool, kind as ImportKind, file, log, {
            onProgress: tty
              ? ({ phase, lines, bytes, totalBytes }) =>
                  void process.stderr.write(
                    `\rimport ${kind}: ${lines.toLocaleString('en')} lines (${((100 * bytes) / Math.max(totalBytes, 1)).toFixed(0)}%)${phase === 'reading' ? '' : `, ${phase}…`}            `,
                  )
              : undefined,
          });
        } catch (e) {
          if (tty) process.stderr.write('\n');
          if (e instanceof ImportError) throw new UserError(`${e.message} (nothing was changed)`);
          throw e;
        }
        if (tty) process.stderr.write('\n');
        if (opts.json) return printJson(summary);
        process.stdout.write(
          `${kind}: ${summary.lines} lines: ${summary.loaded} loaded (${summary.inserted} inserted, ${summary.updated} updated, ${summary.unchanged} unchanged), ` +
            `${summary.rejected} rejected${summary.rejects_file ? ` (see ${summary.rejects_file})` : ''} in ${(summary.duration_ms / 1000).toFixed(1)} s` +
            `${summary.recovery_job_id !== null ? `; recovery of the changes queued (recover_arrivals job ${summary.recovery_job_id})` : ''}\n`,
        );
      });
    });
}
