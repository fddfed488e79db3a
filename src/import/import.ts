import { isAscii, isUtf8 } from 'node:buffer';
import { createReadStream, createWriteStream, existsSync, openSync, readSync, closeSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Log } from '../log.js';
import { csvRecords, type CsvRecord } from './csv-records.js';
import { KINDS, MAX_VALUE_LENGTH, type ColumnSpec, type ImportKind } from './kinds.js';

/** A problem with the file as a whole: nothing was changed; the message says what to do. */
export class ImportError extends Error {
  override name = 'ImportError';
}

export interface ImportSummary {
  kind: ImportKind;
  file: string;
  /** Data records read (a record whose quoted field holds a newline counts once). */
  lines: number;
  loaded: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  rejects_file: string | null;
  ignored_columns: string[];
  absent_columns: string[];
  warnings: string[];
  duration_ms: number;
  rows_per_second: number;
  /**
   * Leads and drivers: the recover_arrivals job queued after the load for the changes it recorded (ops.queue_arrivals),
   * or null (nothing changed, queuing switched off, or not a kind with arrival triggers).
   */
  recovery_job_id: number | null;
  /** Where the time went: stream (parse + COPY into staging), validate, upsert, finish (rejects file, analyze, commit). */
  phases_ms: { stream: number; validate: number; upsert: number; finish: number };
}

export interface ImportProgress {
  phase: 'reading' | 'validating' | 'upserting' | 'finishing';
  lines: number;
  bytes: number;
  totalBytes: number;
}

export interface ImportOptions {
  onProgress?: (p: ImportProgress) => void;
}

/** `leads.csv` -> `leads.rejects.csv` beside it. */
export function rejectsPathFor(file: string): string {
  return /\.csv$/i.test(file) ? file.replace(/\.csv$/i, '.rejects.csv') : `${file}.rejects.csv`;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Refuses what is clearly not CSV text before anything is read into the database. */
function checkLooksLikeText(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new ImportError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (size === 0) throw new ImportError(`${file} is empty: expected a header row and data lines`);
  const fd = openSync(file, 'r');
  const sample = Buffer.alloc(Math.min(size, 65536));
  try {
    readSync(fd, sample, 0, sample.length, 0);
  } finally {
    closeSync(fd);
  }
  const magic: Array<[number[], string]> = [
    [[0x1f, 0x8b], 'gzip'],
    [[0x50, 0x4b, 0x03, 0x04], 'zip (or xlsx)'],
    [[0x25, 0x50, 0x44, 0x46], 'PDF'],
    [[0xd0, 0xcf, 0x11, 0xe0], 'Office (xls)'],
  ];
  for (const [bytes, name] of magic) {
    if (bytes.every((b, i) => sample[i] === b)) throw new ImportError(`${file} is a ${name} file, not CSV text: extract or export it as CSV (UTF-8) first`);
  }
  if (sample.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) throw new ImportError(`${file} is empty: expected a header row and data lines`);
  /*
   * CR-only line endings (classic Mac OS, some old exports): the header row ends
   * with a CR not followed by a LF. Refused whole rather than read: RFC 4180
   * ends lines with CRLF (LF alone is the common variant), a bare CR inside a
   * line is data, and guessing per file would make the same bytes mean two
   * things. Read as LF text, the whole file would be one line.
   */
  const firstCr = sample.indexOf(0x0d);
  const firstLf = sample.indexOf(0x0a);
  if (firstCr !== -1 && (firstLf === -1 || firstCr < firstLf) && sample[firstCr + 1] !== 0x0a && (firstCr + 1 < sample.length || size === sample.length)) {
    throw new ImportError(`${file} has CR-only line endings (old Mac format), not LF or CRLF: convert it first, e.g. tr '\\r' '\\n' < ${file} > fixed.csv`);
  }
  let control = 0;
  for (const b of sample) if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) control += 1;
  const headerEnd = sample.indexOf(0x0a);
  const header = sample.subarray(0, headerEnd === -1 ? sample.length : headerEnd);
  if (control > sample.length * 0.05 || header.includes(0)) {
    throw new ImportError(`${file} looks like binary data, not CSV text (${control} control bytes in the first ${sample.length}); export it as CSV (UTF-8) first`);
  }
}

/** The header's column names, checked against the kind: missing required columns are an error, unknown ones a warning. */
function readHeader(record: CsvRecord | undefined, file: string, kind: ImportKind) {
  if (!record) throw new ImportError(`${file} is empty: expected a header row and data lines`);
  if (record.error) throw new ImportError(`${file}: the header row cannot be parsed (${record.error})`);
  if (record.fields.some((f) => !isUtf8(f))) throw new ImportError(`${file}: the header row is not UTF-8 text; convert the file first (e.g. iconv -f latin1 -t utf-8)`);
  const names = record.fields.map((f) => f.toString('utf8').trim().toLowerCase());
  const spec = KINDS[kind];
  const seen = new Set<string>();
  for (const n of names) {
    if (n !== '' && seen.has(n)) throw new ImportError(`${file}: column "${n}" appears twice in the header`);
    seen.add(n);
  }
  const missing = spec.columns.filter((c) => c.required && !seen.has(c.name)).map((c) => c.name);
  if (missing.length) {
    const found = names.slice(0, 20).map((n) => JSON.stringify(n)).join(', ');
    throw new ImportError(`${file}: missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} for ${kind} (the header has ${found})`);
  }
  const known = new Set(spec.columns.map((c) => c.name));
  const ignored = names.filter((n) => !known.has(n));
  const present = spec.columns.filter((c) => seen.has(c.name));
  const absent = spec.columns.filter((c) => !seen.has(c.name)).map((c) => c.name);
  const positions = present.map((c) => names.indexOf(c.name));
  return { names, present, positions, ignored, absent };
}

function csvField(value: string | null): string {
  if (value === null) return '';
  return value.includes('"') ? `"${value.replace(/"/g, '""')}"` : `"${value}"`;
}

/** Lossy text for the rejects file: invalid UTF-8 becomes U+FFFD, NUL bytes become U+FFFD (PostgreSQL text cannot hold NUL). */
function lossy(b: Buffer): string {
  const s = b.toString('utf8');
  return s.includes('\u0000') ? s.replace(/\u0000/g, '\uFFFD') : s;
}

/*
 * Dates and timestamps: only the forms whose cast keeps their meaning.
 * PostgreSQL's input parser is lenient: '9999-12-31 24:00:00' becomes year
 * 10000, '23:59:60' the next minute, a seventh fractional digit may round into
 * the next day, and '2024-01-01 ::' reads as midnight. So the shape is strict
 * (year 0001-9999, month 01-12, day 01-31, hour 00-23, minute and second 00-59,
 * at most 6 fractional digits), and the calendar (a day past the end of its
 * month, year 0000) is judged by PostgreSQL's own make_date, set-based: the
 * same check on PostgreSQL 15 (no pg_input_is_valid) and 18, and a value that
 * passes both casts without error to exactly the written day and time.
 */
const DATE_SHAPE = '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])';
const TIME_SHAPE = '[ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?';
/** True when the date at the start of `v` (already of DATE_SHAPE) is not a day of the calendar. */
const notCalendarDay = (v: string) =>
  `(case when substr(${v}, 1, 4) = '0000' then true
         else substr(${v}, 9, 2)::integer > extract(day from make_date(substr(${v}, 1, 4)::integer, substr(${v}, 6, 2)::integer, 1) + interval '1 month - 1 day') end)`;

/** SQL checks, in order, each true when the staged text `col` is not a valid value of its type. */
function typeChecks(c: ColumnSpec, col: string): Array<{ bad: string; reason: string }> {
  const v = `btrim(${col})`;
  switch (c.type) {
    case 'timestamp':
      return [
        {
          bad: `${v} <> '' and ${v} !~ '^${DATE_SHAPE}(${TIME_SHAPE})?$'`,
          reason: `${c.name} is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] (hours 00-23, minutes and seconds 00-59)`,
        },
        { bad: `${v} <> '' and ${notCalendarDay(v)}`, reason: `${c.name} is not a day of the calendar (years 0001-9999, no day past the end of its month)` },
      ];
    case 'date':
      return [
        { bad: `${v} <> '' and ${v} !~ '^${DATE_SHAPE}$'`, reason: `${c.name} is not a date YYYY-MM-DD` },
        { bad: `${v} <> '' and ${notCalendarDay(v)}`, reason: `${c.name} is not a day of the calendar (years 0001-9999, no day past the end of its month)` },
      ];
    case 'integer':
      return [
        {
          bad: `${v} <> '' and not (${v} ~ '^[+]?[0-9]{1,10}$' and ${v}::numeric <= 2147483647)`,
          reason: `${c.name} is not a whole number from 0 to 2147483647`,
        },
      ];
    default:
      return [];
  }
}

/*
 * A lead is keyed everywhere by lead_id = coalesce(external_id, id::text): an
 * external_id written as a bigint (what id::text gives) could be the lead_id of
 * another lead, one without an external_id, now or after a later insert. The
 * database refuses it too (migration 000007): a numeric external_id must equal
 * its own lead's id, which an import never sets.
 */
const NUMERIC_ID_SHAPE = '^(0|-?[1-9][0-9]{0,18})$';

function typedExpr(c: ColumnSpec, col: string): string {
  if (c.key) return `btrim(${col})`;
  switch (c.type) {
    case 'timestamp':
      return `nullif(btrim(${col}), '')::timestamp`;
    case 'date':
      return `nullif(btrim(${col}), '')::date`;
    case 'integer':
      return `nullif(btrim(${col}), '')::integer`;
    default:
      return `nullif(${col}, '')`;
  }
}

/**
 * Loads FILE into the kind's public table, in one transaction: stream the
 * records through COPY into a temp staging table of text, validate set-based in
 * SQL, upsert with IS DISTINCT FROM (a rerun changes nothing), write every
 * rejected line with its reason to FILE.rejects.csv. A problem with the file as
 * a whole (empty, binary, not UTF-8, missing column) raises ImportError and
 * changes nothing.
 */
export async function importCsv(
  target: pg.Pool | string,
  kind: ImportKind,
  file: string,
  log: Log,
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  const started = Date.now();
  const spec = KINDS[kind];
  if (!spec) throw new ImportError(`unknown import kind ${JSON.stringify(kind)}: use leads, drivers or activity`);
  checkLooksLikeText(file);
  const totalBytes = statSync(file).size;

  const records = csvRecords(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
  const first = await records.next();
  let header: ReturnType<typeof readHeader>;
  try {
    header = readHeader(first.done ? undefined : first.value, file, kind);
  } catch (e) {
    await records.return(undefined);
    throw e;
  }
  const warnings: string[] = [];
  if (header.ignored.length) {
    const w = `unknown column${header.ignored.length > 1 ? 's' : ''} ignored: ${header.ignored.map((n) => n || '(empty name)').join(', ')}`;
    warnings.push(w);
    log.warn({ event: 'import.unknown_columns', kind, columns: header.ignored }, w);
  }
  if (header.absent.length) {
    const w = `column${header.absent.length > 1 ? 's' : ''} not in the file (left as they are on existing rows, empty on new rows): ${header.absent.join(', ')}`;
    warnings.push(w);
    log.info({ event: 'import.absent_columns', kind, columns: header.absent }, w);
  }

  const ownPool = typeof target === 'string';
  const pool = typeof target === 'string' ? new pg.Pool({ connectionString: target, max: 1, application_name: 'idgap-import' }) : target;
  const client = await pool.connect();
  const rejectsFile = rejectsPathFor(file);
  const rejectsTmp = `${rejectsFile}.tmp-${process.pid}`;
  let committed = false;
  let clientBroken = false;
  try {
    await client.query('begin');
    await client.query("set local work_mem = '256MB'");
    await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`idgap.import.${kind}`]);
    /*
     * Bulk load: the arrival triggers record every changed lead or driver, but this transaction turns their queuing
     * off for itself (transaction-local: a crash or rollback cannot leave it off, nor leak it to a pooled connection,
     * and the global switch arrival_enqueue_enabled is never touched); one recover_arrivals job is queued at the end.
     */
    const arrivals = kind === 'leads' || kind === 'drivers';
    let queuingBefore: string | null = null;
    if (arrivals) {
      const { rows } = await client.query<{ before: string | null }>(
        `select current_setting('idgap.arrival_enqueue', true) as before, set_config('idgap.arrival_enqueue', 'off', true)`,
      );
      queuingBefore = rows[0]!.before;
    }
    const cols = header.present.map((c) => ident(`c_${c.name}`));
    await client.query(
      `create temp table import_staging (line_no integer not null, last_line_no integer not null, reason text, raw text, ${cols.map((c) => `${c} text`).join(', ')}) on commit drop`,
    );

    // 1. Stream every record into staging; records the CSV layer rejects carry their reason already.
    const copy = client.query(copyStreams.from(`copy import_staging (line_no, last_line_no, reason, raw, ${cols.join(', ')}) from stdin with (format csv)`));
    const copyDone = once(copy, 'finish');
    const copyFailed = new Promise<never>((_, reject) => copy.once('error', reject));
    copyFailed.catch(() => undefined);
    let lines = 0;
    let invalidUtf8 = 0;
    let firstInvalidLine = 0;
    let validNonAscii = 0;
    let bytesSeen = 0;
    let lastProgress = Date.now();
    let out: string[] = [];
    let outLen = 0;
    const width = header.names.length;
    const flush = async () => {
      if (!out.length) return;
      const chunk = out.join('');
      out = [];
      outLen = 0;
      if (!copy.write(chunk)) await Promise.race([once(copy, 'drain'), copyFailed]);
    };
    for await (const rec of records) {
      lines += 1;
      let reason: string | null = null;
      let raw: string | null = null;
      const values: Array<string | null> = new Array(header.present.length).fill(null);
      if (rec.error) {
        reason = rec.error;
        raw = lossy(rec.raw ?? Buffer.alloc(0));
      } else {
        if (rec.fields.length === 1 && rec.fields[0]!.length === 0 && width > 1) reason = 'empty line';
        else if (rec.fields.length !== width) reason = `wrong column count: expected ${width}, got ${rec.fields.length}`;
        let bad = false;
        let nonAscii = false;
        for (const f of rec.fields) {
          bytesSeen += f.length + 1;
          if (isAscii(f)) continue;
          if (isUtf8(f)) nonAscii = true;
          else bad = true;
        }
        if (bad) {
          invalidUtf8 += 1;
          firstInvalidLine ||= rec.line;
        } else if (nonAscii) validNonAscii += 1;
        for (let k = 0; k < header.present.length; k++) {
          const f = rec.fields[header.positions[k]!];
          if (f === undefined) continue;
          if (reason === null && f.includes(0)) reason = `NUL byte in column ${header.present[k]!.name}`;
          if (reason === null && bad && !isAscii(f) && !isUtf8(f)) reason = `invalid UTF-8 in column ${header.present[k]!.name}`;
          values[k] = lossy(f);
        }
      }
      const row = `${rec.line},${rec.line + rec.lines - 1},${csvField(reason)},${csvField(raw)},${values.map(csvField).join(',')}\n`;
      out.push(row);
      outLen += row.length;
      if (outLen > 1 << 18) await flush();
      if (opts.onProgress && (lines & 0x3fff) === 0 && Date.now() - lastProgress > 500) {
        lastProgress = Date.now();
        opts.onProgress({ phase: 'reading', lines, bytes: Math.min(bytesSeen, totalBytes), totalBytes });
      }
    }
    await flush();
    copy.end();
    await Promise.race([copyDone, copyFailed]);
    const progress = (phase: ImportProgress['phase']) => opts.onProgress?.({ phase, lines, bytes: totalBytes, totalBytes });
    progress('reading');

    /* A file in another encoding shows more lines of invalid UTF-8 than lines of valid non-ASCII text. */
    if (invalidUtf8 > 0 && invalidUtf8 > validNonAscii) {
      throw new ImportError(
        `${file} is not UTF-8 text (${invalidUtf8} line${invalidUtf8 > 1 ? 's' : ''} with invalid UTF-8, the first at line ${firstInvalidLine}); convert it first, e.g. iconv -f latin1 -t utf-8`,
      );
    }
    if (lines === 0) {
      warnings.push('the file has a header row but no data lines');
      log.warn({ event: 'import.no_data', kind }, 'the file has a header row but no data lines');
    }

    const phases = { stream: Date.now() - started, validate: 0, upsert: 0, finish: 0 };
    let phaseStart = Date.now();
    progress('validating');
    // 2. Validate set-based: the first failing check of each row is its reason.
    const checks: Array<{ bad: string; reason: string }> = [];
    for (const c of header.present) {
      const col = `staging.${ident(`c_${c.name}`)}`;
      if (c.key) checks.push({ bad: `${col} is null or btrim(${col}) = ''`, reason: `missing ${c.name}` });
    }
    for (const c of header.present) {
      const col = `staging.${ident(`c_${c.name}`)}`;
      checks.push({ bad: `length(${col}) > ${MAX_VALUE_LENGTH}`, reason: `${c.name} is longer than ${MAX_VALUE_LENGTH} characters` });
    }
    for (const c of header.present) checks.push(...typeChecks(c, `staging.${ident(`c_${c.name}`)}`));
    if (kind === 'leads') {
      const col = `btrim(staging.${ident('c_external_id')})`;
      checks.push({
        bad: `${col} ~ '${NUMERIC_ID_SHAPE}'`,
        reason: 'external_id is a whole number, which can be another lead\'s id (lead_id = coalesce(external_id, id::text) would name two leads): give it a non-numeric form, e.g. a prefix',
      });
    }
    /*
     * The verdicts, narrow (line number and reason of the rejected rows only;
     * valid rows are never rewritten): the first failing check of a row is its
     * reason; among the rows that pass, a key seen again later in the file is a
     * duplicate: the last occurrence wins (a later line is a later export), the
     * earlier ones are rejected.
     */
    const keyCols = header.present.filter((c) => c.key);
    await client.query(`
      create temp table import_rejects on commit drop as
      with checked as materialized ( -- evaluated once per row, and the sort below carries only these narrow columns
        select staging.line_no,
               ${keyCols.map((c, k) => `btrim(staging.${ident(`c_${c.name}`)}) as key_${k}`).join(', ')},
               coalesce(staging.reason,
                        case ${checks.map((c) => `when ${c.bad} then ${pg.escapeLiteral(c.reason)}`).join('\n                             ')} end) as check_reason
        from import_staging as staging
      ),
      ranked as (
        select checked.line_no, checked.check_reason,
               max(checked.line_no) filter (where checked.check_reason is null)
                 over (partition by ${keyCols.map((_c, k) => `checked.key_${k}`).join(', ')}) as last_line
        from checked
      )
      select ranked.line_no,
             coalesce(ranked.check_reason,
                      format('duplicate %s in the file: the last occurrence (line %s) is loaded instead', ${pg.escapeLiteral(keyCols.map((c) => c.name).join(' + '))}, ranked.last_line)) as reason
      from ranked
      where ranked.check_reason is not null or ranked.line_no <> ranked.last_line`);
    await client.query('alter table import_rejects add primary key (line_no)');

    phases.validate = Date.now() - phaseStart;
    phaseStart = Date.now();
    progress('upserting');
    // 3. Upsert the valid rows: only rows whose content differs are written.
    const names = header.present.map((c) => ident(c.name));
    await client.query(`
      create temp table import_rows on commit drop as
      select ${header.present.map((c) => `${typedExpr(c, `staging.${ident(`c_${c.name}`)}`)} as ${ident(c.name)}`).join(', ')}
      from import_staging as staging
      where not exists (select 1 from import_rejects as rejects where rejects.line_no = staging.line_no)`);
    await client.query('analyze import_rows');
    const keyJoin = keyCols.map((c) => `target.${ident(c.name)} = src.${ident(c.name)}`).join(' and ');
    const valueCols = header.present.filter((c) => !c.key);
    const updateSql = valueCols.length
      ? `update ${spec.table} as target
         set ${valueCols.map((c) => `${ident(c.name)} = src.${ident(c.name)}`).join(', ')}
         from import_rows as src
         where ${keyJoin}
           and (${valueCols.map((c) => `target.${ident(c.name)}`).join(', ')}, null) is distinct from (${valueCols.map((c) => `src.${ident(c.name)}`).join(', ')}, null)
         returning 1`
      : `select 1 where false`;
    const { rows: counts } = await client.query<{ inserted: string; updated: string; loaded: string; lines: string; rejected: string }>(`
      with updated as (${updateSql}),
      inserted as (
        insert into ${spec.table} (${names.join(', ')})
        select ${names.map((n) => `src.${n}`).join(', ')}
        from import_rows as src
        where not exists (select 1 from ${spec.table} as target where ${keyJoin})
        order by ${keyCols.map((c) => `src.${ident(c.name)}`).join(', ')}
        returning 1
      )
      select (select count(*) from inserted) as inserted,
             (select count(*) from updated) as updated,
             (select count(*) from import_rows) as loaded,
             (select count(*) from import_staging) as lines,
             (select count(*) from import_rejects) as rejected`);
    const c = counts[0]!;
    const summary: ImportSummary = {
      kind,
      file,
      lines: Number(c.lines),
      loaded: Number(c.loaded),
      inserted: Number(c.inserted),
      updated: Number(c.updated),
      unchanged: Number(c.loaded) - Number(c.inserted) - Number(c.updated),
      rejected: Number(c.rejected),
      rejects_file: null,
      recovery_job_id: null,
      ignored_columns: header.ignored,
      absent_columns: header.absent,
      warnings,
      duration_ms: 0,
      rows_per_second: 0,
      phases_ms: phases,
    };
    phases.upsert = Date.now() - phaseStart;
    phaseStart = Date.now();
    if (summary.lines !== lines || summary.loaded + summary.rejected !== summary.lines) {
      throw new Error(`import accounting failed: read ${lines} lines, staged ${summary.lines}, loaded ${summary.loaded} + rejected ${summary.rejected}`);
    }
    if (kind === 'activity') {
      const { rows } = await client.query<{ n: string }>('select count(*) as n from import_rows as src where canon.parse_date_file(src.date_file) is null');
      const garbage = Number(rows[0]!.n);
      if (garbage > 0) {
        const w = `${garbage} row${garbage > 1 ? 's' : ''} with a date_file that is neither DD-MM-YYYY nor YYYY-MM-DD, loaded as-is (counted apart by the activity KPI)`;
        warnings.push(w);
        log.info({ event: 'import.garbage_dates', kind, rows: garbage }, w);
      }
    }

    progress('finishing');
    // 4. The rejects file, written before the commit so that nothing is reported loaded without its rejects on disk.
    if (summary.rejected > 0) {
      /*
       * Values that a spreadsheet would run as a formula (OWASP CSV injection: a
       * cell starting with = + - @ tab or CR) are written with a leading single
       * quote, so that opening the rejects file never runs `=cmd|...`.
       */
      const safe = (expr: string) => `case when left(${expr}, 1) in ('=', '+', '-', '@', e'\\t', e'\\r') then '''' || ${expr} else ${expr} end`;
      const copyOut = client.query(
        copyStreams.to(`copy (select staging.line_no, staging.last_line_no, rejects.reason, ${safe('staging.raw')} as raw,
                                     ${cols.map((col, k) => `${safe(`staging.${col}`)} as ${ident(header.present[k]!.name)}`).join(', ')}
                              from import_rejects as rejects join import_staging as staging on staging.line_no = rejects.line_no
                              order by staging.line_no)
                        to stdout with (format csv, header)`),
      );
      try {
        await pipeline(copyOut, createWriteStream(rejectsTmp));
      } catch (e) {
        /* The connection is left inside COPY OUT: drop it (the server rolls the transaction back) rather than wait on it. */
        clientBroken = true;
        const err = e as NodeJS.ErrnoException;
        const why = err.code === 'ENOSPC' ? 'no space left on the device' : err.code === 'EACCES' ? 'permission denied' : err.message;
        throw new ImportError(`cannot write the rejects file ${rejectsFile}: ${why}${err.code === 'ENOSPC' ? '; free some space there and import again' : ''}`);
      }
      summary.rejects_file = rejectsFile;
    }
    /* Fresh statistics for the planner: recovery right after a bulk load would otherwise plan on an empty table. */
    if (summary.inserted + summary.updated > 0) await client.query(`analyze ${spec.table}`);
    /*
     * One job for the whole load: recover_arrivals, which takes the rows the load recorded in the work list (a
     * full retry_identity_matching would plan the same leads but leave the work list, its latency view and health
     * check undrained, and would not refresh the drivers the load changed). Queued in this transaction, so it
     * exists exactly when the load does; null when queuing is switched off globally (the sweep queues it when it
     * is on again) or when nothing waits.
     */
    if (arrivals) {
      await client.query(`select set_config('idgap.arrival_enqueue', coalesce($1, ''), true)`, [queuingBefore]);
      const { rows } = await client.query<{ job_id: string | null }>('select ops.queue_arrivals() as job_id');
      summary.recovery_job_id = rows[0]!.job_id === null ? null : Number(rows[0]!.job_id);
    }
    await client.query('commit');
    committed = true;
    if (summary.rejected > 0) renameSync(rejectsTmp, rejectsFile);
    else if (existsSync(rejectsFile)) rmSync(rejectsFile); // a stale one from an earlier run would mislead
    phases.finish = Date.now() - phaseStart;
    summary.duration_ms = Date.now() - started;
    summary.rows_per_second = summary.duration_ms > 0 ? Math.round((summary.lines * 1000) / summary.duration_ms) : summary.lines;
    log.info(
      { event: 'import.finished', kind, lines: summary.lines, loaded: summary.loaded, inserted: summary.inserted, updated: summary.updated,
        unchanged: summary.unchanged, rejected: summary.rejected, recovery_job_id: summary.recovery_job_id, duration_ms: summary.duration_ms },
      `Import of ${kind} finished: ${summary.loaded} loaded (${summary.inserted} inserted, ${summary.updated} updated, ${summary.unchanged} unchanged), ${summary.rejected} rejected`,
    );
    return summary;
  } catch (e) {
    rmSync(rejectsTmp, { force: true });
    if (!committed && !clientBroken) await client.query('rollback').catch(() => undefined);
    throw e;
  } finally {
    client.release(clientBroken ? new Error('import: connection left inside COPY, discarded') : undefined);
    if (ownPool) await pool.end();
  }
}
