import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { silentLog } from '../support/log.js';
import { resetData } from '../support/fixtures.js';
import { ensureCliBuilt } from '../support/build.js';
import { ImportError, importCsv, rejectsPathFor } from '../../src/import/import.js';

const run = promisify(execFile);
const log = silentLog();
let db: TestDatabase;
let dir: string;

const LEADS_HEADER = 'external_id,lead_created_at,park_phone,first_name,middle_name,last_name,asset_plate_number,asset_model,asset_color,activation_city,target_city,park_name,status';
const lead = (id: string, created: string, first: string, last: string) =>
  `${id},${created},+51 987 654 321,${first},,${last},ABC-123,Kia Rio,rojo,Lima,Lima,park-01,new`;

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

async function count(table: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`select count(*)::integer as n from ${table}`);
  return rows[0]!.n;
}

function readRejects(file: string): Array<Record<string, string>> {
  return parse(readFileSync(rejectsPathFor(file)), { columns: true }) as Array<Record<string, string>>;
}

beforeAll(async () => {
  db = await useTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'idgap-import-'));
});

beforeEach(async () => {
  await resetData(db.pool);
});

describe('idgap import', () => {
  it('loads a clean leads file, keeping accents and particles verbatim', async () => {
    const file = write('clean.csv', [LEADS_HEADER, lead('a1', '2026-11-01 10:00:00', 'José', 'de la Cruz Núñez'), lead('a2', '2026-11-02', 'Ñusta', 'Peña'), lead('a3', '', 'Ana', 'Ruiz')].join('\n') + '\n');
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s).toMatchObject({ lines: 3, loaded: 3, inserted: 3, updated: 0, unchanged: 0, rejected: 0, rejects_file: null });
    const { rows } = await db.pool.query(`select external_id, lead_created_at::text as created, last_name, park_phone from public.module_ct_cabinet_leads order by external_id`);
    expect(rows).toEqual([
      { external_id: 'a1', created: '2026-11-01 10:00:00', last_name: 'de la Cruz Núñez', park_phone: '+51 987 654 321' },
      { external_id: 'a2', created: '2026-11-02 00:00:00', last_name: 'Peña', park_phone: '+51 987 654 321' },
      { external_id: 'a3', created: null, last_name: 'Ruiz', park_phone: '+51 987 654 321' },
    ]);
    expect(existsSync(rejectsPathFor(file))).toBe(false);
  });

  it('loads or rejects every line of a file full of bad rows, each reject with its line number and reason', async () => {
    const injection = `Robert'); DROP TABLE public.module_ct_cabinet_leads;--`;
    const content = Buffer.concat([
      Buffer.from(
        [
          LEADS_HEADER,
          lead('ok1', '2026-11-01 10:00:00', 'José', 'Pérez'), // 2
          lead('badts', '2026-13-45 10:00', 'María', 'Núñez'), // 3
          lead('dup', '2026-11-01', 'First', 'Copy'), // 4: superseded by line 11
          lead('long', '2026-11-01', 'x'.repeat(600), 'Long'), // 5
          'short,2026-11-01,only three', // 6
          'stray,2026-11-01,1,"ab"c,,d,e,f,g,h,i,j,k', // 7
          lead('nul', '2026-11-01', 'Nu\u0000l', 'Byte'), // 8
          '', // 9: empty line
          lead('inj', '2026-11-01', injection, 'Tables'), // 10
          lead('dup', '2026-11-02', 'Last', 'Copy'), // 11
          lead('', '2026-11-01', 'No', 'Key'), // 12
          `multi,2026-11-01,,"Line one\nline two",,"Comma, inside",,,,,,,`, // 13-14: one record over two lines
        ].join('\n') + '\n',
      ),
      Buffer.from('badutf,2026-11-01,,,,'),
      Buffer.from([0x4a, 0x6f, 0x73, 0xe9]), // "José" in Latin-1: invalid UTF-8, line 15
      Buffer.from(',,,,,,,\n'),
      Buffer.from(lead('ok2', '2026-11-03T08:30:00', 'Zoë', 'Ibáñez') + '\n'), // 16
    ]);
    const file = write('bad.csv', content);
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s.lines).toBe(14); // 15 physical data lines, one record spans two
    expect(s.loaded + s.rejected).toBe(s.lines);
    expect(s).toMatchObject({ loaded: 5, inserted: 5, rejected: 9, rejects_file: rejectsPathFor(file) });
    const rejects = Object.fromEntries(readRejects(file).map((r) => [r.line_no, r.reason]));
    expect(rejects).toEqual({
      '3': 'lead_created_at is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] (hours 00-23, minutes and seconds 00-59)',
      '4': 'duplicate external_id in the file: the last occurrence (line 11) is loaded instead',
      '5': 'first_name is longer than 500 characters',
      '6': 'wrong column count: expected 13, got 3',
      '7': 'stray quote (characters after a closing quote)',
      '8': 'NUL byte in column first_name',
      '9': 'empty line',
      '12': 'missing external_id',
      '15': 'invalid UTF-8 in column last_name',
    });
    const { rows } = await db.pool.query(`select external_id, first_name, last_name from public.module_ct_cabinet_leads order by external_id`);
    expect(rows.map((r) => r.external_id)).toEqual(['dup', 'inj', 'multi', 'ok1', 'ok2']);
    expect(rows.find((r) => r.external_id === 'inj')!.first_name).toBe(injection);
    expect(rows.find((r) => r.external_id === 'dup')!.first_name).toBe('Last');
    expect(rows.find((r) => r.external_id === 'multi')!.first_name).toBe('Line one\nline two');
    expect(await count('public.module_ct_cabinet_leads')).toBe(5);
  });

  it('reads a quoted field of many lines as part of its record, never a line of it as a lead of its own', async () => {
    const fake = lead('fabricated', '2026-11-05', 'Not', 'Real');
    const note = Array.from({ length: 150 }, (_, k) => (k === 120 ? fake : String(k % 10))).join('\n'); // under 500 characters
    const file = write('multiline.csv', [LEADS_HEADER, lead('before', '2026-11-01', 'Ana', 'Ruiz'), `genuine,2026-11-02,,"${note}",,Soto,,,,,,,`, lead('after', '2026-11-03', 'Luis', 'Vega')].join('\n') + '\n');
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s).toMatchObject({ lines: 3, loaded: 3, rejected: 0 });
    const { rows } = await db.pool.query(`select external_id, first_name from public.module_ct_cabinet_leads order by external_id`);
    expect(rows).toEqual([
      { external_id: 'after', first_name: 'Luis' },
      { external_id: 'before', first_name: 'Ana' },
      { external_id: 'genuine', first_name: note },
    ]);
  });

  it('rejects a record too large to keep whole, with its lines, and reads on after it', async () => {
    const fake = lead('fabricated', '2026-11-05', 'Not', 'Real');
    const chunk = `${'z'.repeat(2000)}\n${fake}\n`;
    const note = chunk.repeat(Math.ceil((4 * 1024 * 1024 + 10) / chunk.length));
    const spans = note.split('\n').length;
    const file = write('huge.csv', [LEADS_HEADER, lead('before', '2026-11-01', 'Ana', 'Ruiz'), `genuine,2026-11-02,,"${note}",,Soto,,,,,,,`, lead('after', '2026-11-03', 'Luis', 'Vega')].join('\n') + '\n');
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s).toMatchObject({ lines: 3, loaded: 2, rejected: 1 });
    const { rows } = await db.pool.query(`select external_id from public.module_ct_cabinet_leads order by external_id`);
    expect(rows.map((r) => r.external_id)).toEqual(['after', 'before']);
    const [reject] = readRejects(file);
    expect(reject).toMatchObject({ line_no: '3', last_line_no: String(2 + spans) });
    expect(reject!.reason).toMatch(new RegExp(`^record too large \\(lines 3-${2 + spans}, [0-9]+ bytes; at most 4194304 bytes\\)$`));
    expect(reject!.raw!.startsWith('genuine,2026-11-02,,"zz')).toBe(true);
  });

  it('accepts dates and timestamps only in forms PostgreSQL keeps as written, with a reason for each other line', async () => {
    const stamps: Array<[string, string | null]> = [
      ['2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999'],
      ['2024-01-01T08:30', '2024-01-01 08:30:00'],
      ['0001-01-01', '0001-01-01 00:00:00'],
      ['9999-12-31 23:59:59', '9999-12-31 23:59:59'],
      ['9999-12-31 24:00:00', null], // PostgreSQL stores year 10000
      ['2024-01-01 ::', null], // PostgreSQL reads midnight
      ['2024-01-01 23:59:60', null], // PostgreSQL reads the next day
      ['2024-12-31 23:59:59.9999995', null], // rounds into the next year
      ['2024-01-01 7:05', null],
      ['2024-02-30 10:00', null],
      ['2023-02-29', null],
      ['0000-01-01', null],
      ['10000-01-01', null],
      ['2024-1-01', null],
    ];
    const file = write('stamps.csv', [LEADS_HEADER, ...stamps.map(([v], k) => lead(`t${k}`, v, 'Ana', 'Ruiz'))].join('\n') + '\n');
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s).toMatchObject({ lines: stamps.length, loaded: 4, rejected: stamps.length - 4 });
    const { rows } = await db.pool.query(`select external_id, to_char(lead_created_at, 'YYYY-MM-DD HH24:MI:SS.US') as at from public.module_ct_cabinet_leads`);
    const loaded = Object.fromEntries(rows.map((r) => [r.external_id, r.at]));
    const shape = 'lead_created_at is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] (hours 00-23, minutes and seconds 00-59)';
    const calendar = 'lead_created_at is not a day of the calendar (years 0001-9999, no day past the end of its month)';
    const rejects = Object.fromEntries(readRejects(file).map((r) => [r.lead_created_at, r.reason]));
    stamps.forEach(([v, stored], k) => {
      if (stored) expect(loaded[`t${k}`], v).toBe(stored.length === 19 ? `${stored}.000000` : stored);
      else expect(rejects[v], v).toBe(['2024-02-30 10:00', '2023-02-29', '0000-01-01'].includes(v) ? calendar : shape);
    });
    const drivers = write('hire.csv', 'driver_id,hire_date\nD1,2024-02-29\nD2,2024-02-30\nD3,10000-01-01\nD4,2024-02-29 10:00\n');
    expect(await importCsv(db.url, 'drivers', drivers, log)).toMatchObject({ loaded: 1, rejected: 3 });
    expect(readRejects(drivers).map((r) => [r.driver_id, r.reason])).toEqual([
      ['D2', 'hire_date is not a day of the calendar (years 0001-9999, no day past the end of its month)'],
      ['D3', 'hire_date is not a date YYYY-MM-DD'],
      ['D4', 'hire_date is not a date YYYY-MM-DD'],
    ]);
  });

  it('refuses an external_id that could be another lead\'s id, so that no two leads share a lead_id', async () => {
    const { rows } = await db.pool.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (external_id, lead_created_at) values (null, '2026-11-01') returning id::text as id`);
    const id = rows[0]!.id;
    const file = write('numeric.csv', [LEADS_HEADER, lead(id, '2026-11-02', 'Other', 'Lead'), lead('12345', '2026-11-02', 'Num', 'Ber'), lead('0042', '2026-11-02', 'Lead', 'Zero'), lead('-7', '2026-11-02', 'Neg', 'Ative')].join('\n') + '\n');
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s).toMatchObject({ lines: 4, loaded: 1, rejected: 3 });
    const reason = "external_id is a whole number, which can be another lead's id (lead_id = coalesce(external_id, id::text) would name two leads): give it a non-numeric form, e.g. a prefix";
    expect(readRejects(file).map((r) => [r.line_no, r.reason])).toEqual([['2', reason], ['3', reason], ['5', reason]]);
    const { rows: ids } = await db.pool.query(`select coalesce(external_id, id::text) as lead_id, count(*)::integer as n from public.module_ct_cabinet_leads group by 1 order by 1`);
    expect(ids).toEqual([{ lead_id: '0042', n: 1 }, { lead_id: id, n: 1 }]);
  });

  it('writes formula-like values to the rejects file behind a single quote, so a spreadsheet shows them as text', async () => {
    const formula = `=cmd|' /C calc'!A0`;
    const file = write('formula.csv', [
      LEADS_HEADER,
      `${formula},not-a-date,+51 987,@SUM(A1),-2+3,\t=1+1,"\r=2",,,,,,`,
      `x2,also-bad,safe,Ana,,Ruiz,,,,,,,`,
      `${formula},"ab"c,,,,,,,,,,,`, // a stray quote: the CSV layer keeps the raw line
    ].join('\n') + '\n');
    const s = await importCsv(db.url, 'leads', file, log);
    expect(s).toMatchObject({ rejected: 3 });
    const [first, second, third] = readRejects(file);
    expect(first).toMatchObject({ external_id: `'${formula}`, park_phone: "'+51 987", first_name: "'@SUM(A1)", middle_name: "'-2+3", last_name: "'\t=1+1", asset_plate_number: "'\r=2" });
    expect(second).toMatchObject({ external_id: 'x2', park_phone: 'safe', first_name: 'Ana', raw: '' });
    expect(third).toMatchObject({ reason: 'stray quote (characters after a closing quote)', raw: `'${formula},"ab"c,,,,,,,,,,,` });
  });

  it('refuses a file with CR-only line endings with a message that says so', async () => {
    await importCsv(db.url, 'leads', write('seed-cr.csv', `${LEADS_HEADER}\n${lead('keep', '2026-11-01', 'Ana', 'Ruiz')}\n`), log);
    const file = write('mac.csv', [LEADS_HEADER, lead('m1', '2026-11-01', 'Ana', 'Ruiz'), lead('m2', '2026-11-01', 'Luis', 'Soto')].join('\r') + '\r');
    const failure = await importCsv(db.url, 'leads', file, log).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ImportError);
    expect((failure as Error).message).toBe(`${file} has CR-only line endings (old Mac format), not LF or CRLF: convert it first, e.g. tr '\\r' '\\n' < ${file} > fixed.csv`);
    expect(await count('public.module_ct_cabinet_leads')).toBe(1);
    // A CRLF file is read as before.
    const crlf = write('crlf.csv', [LEADS_HEADER, lead('c1', '2026-11-01', 'Ana', 'Ruiz')].join('\r\n') + '\r\n');
    expect(await importCsv(db.url, 'leads', crlf, log)).toMatchObject({ loaded: 1, rejected: 0 });
  });

  it('changes nothing when the same file is imported again, and updates only the rows that changed', async () => {
    const file = write('rerun.csv', [LEADS_HEADER, lead('r1', '2026-11-01', 'Ana', 'Ruiz'), lead('r2', '2026-11-01', 'Luis', 'Soto'), 'broken,"x'].join('\n') + '\n');
    const first = await importCsv(db.url, 'leads', file, log);
    expect(first).toMatchObject({ lines: 3, inserted: 2, updated: 0, unchanged: 0, rejected: 1 });
    const before = (await db.pool.query(`select * from public.module_ct_cabinet_leads order by id`)).rows;
    const again = await importCsv(db.url, 'leads', file, log);
    expect(again).toMatchObject({ lines: 3, loaded: 2, inserted: 0, updated: 0, unchanged: 2, rejected: 1 });
    expect((await db.pool.query(`select * from public.module_ct_cabinet_leads order by id`)).rows).toEqual(before);
    const changed = write('rerun.csv', [LEADS_HEADER, lead('r1', '2026-11-01', 'Ana', 'Ruiz'), lead('r2', '2026-11-01', 'Luis', 'Soto Vega')].join('\n') + '\n');
    const third = await importCsv(db.url, 'leads', changed, log);
    expect(third).toMatchObject({ inserted: 0, updated: 1, unchanged: 1, rejected: 0 });
    expect(existsSync(rejectsPathFor(changed))).toBe(false); // the stale rejects file of the earlier run is gone
  });

  it('loads activity with garbage date_file values as they are and rejects bad counts', async () => {
    const file = write('activity.csv', 'driver_id,date_file,count_orders_completed\nD1,01-11-2026,5\nD1,2026-11-02,3\nD1,N/A,2\nD2,31-02-2026,1\nD2,05-11-2026,-4\nD3,05-11-2026,many\n');
    const s = await importCsv(db.url, 'activity', file, log);
    expect(s).toMatchObject({ lines: 6, loaded: 4, rejected: 2 });
    const { rows } = await db.pool.query(`select date_file from public.summary_daily order by driver_id, date_file`);
    expect(rows.map((r) => r.date_file)).toEqual(['01-11-2026', '2026-11-02', 'N/A', '31-02-2026']);
    expect(readRejects(file).map((r) => r.reason)).toEqual([
      'count_orders_completed is not a whole number from 0 to 2147483647',
      'count_orders_completed is not a whole number from 0 to 2147483647',
    ]);
  });

  it('ignores unknown columns and leaves columns absent from the file untouched on existing rows', async () => {
    await importCsv(db.url, 'drivers', write('d1.csv', 'driver_id,park_id,phone,hire_date\nD1,park-01,51987654321,2026-01-02\n'), log);
    const s = await importCsv(db.url, 'drivers', write('d2.csv', 'driver_id,park_id,favourite_colour\nD1,park-02,blue\n'), log);
    expect(s).toMatchObject({ updated: 1, ignored_columns: ['favourite_colour'] });
    const { rows } = await db.pool.query(`select park_id, phone, hire_date from public.drivers`);
    expect(rows).toEqual([{ park_id: 'park-02', phone: '51987654321', hire_date: '2026-01-02' }]);
  });

  describe('a file that cannot be imported gives one clear error and changes nothing', () => {
    beforeEach(async () => {
      await importCsv(db.url, 'leads', write('seed.csv', `${LEADS_HEADER}\n${lead('keep', '2026-11-01', 'Ana', 'Ruiz')}\n`), log);
    });
    const cases: Array<[string, () => string, RegExp]> = [
      ['a missing required column', () => write('missing.csv', 'external_id,park_phone\nx1,987654321\n'), /missing required column lead_created_at for leads/],
      ['an empty file', () => write('empty.csv', ''), /is empty/],
      ['a binary file', () => write('binary.csv', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))), /binary data, not CSV text/],
      ['a gzip file', () => write('data.csv', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])), /gzip file, not CSV text/],
      [
        'a Latin-1 file',
        () => write('latin1.csv', Buffer.from(`${LEADS_HEADER}\n${lead('l1', '2026-11-01', 'José', 'Núñez')}\n${lead('l2', '2026-11-01', 'Iñigo', 'Peña')}\n`, 'latin1')),
        /is not UTF-8 text \(2 lines with invalid UTF-8, the first at line 2\)/,
      ],
    ];
    for (const [what, make, message] of cases) {
      it(`refuses ${what}`, async () => {
        const file = make();
        const failure = await importCsv(db.url, 'leads', file, log).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(ImportError);
        expect((failure as Error).message).toMatch(message);
        expect(await count('public.module_ct_cabinet_leads')).toBe(1);
        expect(existsSync(rejectsPathFor(file))).toBe(false);
      });
    }
  });

  describe('through the real CLI', () => {
    let bin: string;
    beforeAll(async () => {
      bin = await ensureCliBuilt();
    }, 180_000);
    const env = () => ({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' });

    it('prints one JSON summary on stdout and exits 0', async () => {
      const file = write('cli.csv', 'driver_id,park_id,phone,full_name,hire_date\nD1,park-01,51987654321,QUISPE MAMANI JUAN,2026-01-02\nD2,park-01,,"PEÑA, ANA",not-a-date\n');
      const { stdout } = await run(process.execPath, [bin, 'import', 'drivers', file, '--json'], { env: env() });
      expect(JSON.parse(stdout)).toMatchObject({ kind: 'drivers', lines: 2, loaded: 1, inserted: 1, rejected: 1 });
      expect(await count('public.drivers')).toBe(1);
    });

    it('exits 1 with a one-line reason for a file it cannot import', async () => {
      const file = write('cli-missing.csv', 'park_id,phone\npark-01,1\n');
      const failure = (await run(process.execPath, [bin, 'import', 'drivers', file], { env: env() }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(failure.code).toBe(1);
      const lines = failure.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
      expect(lines).toEqual([`idgap: ${file}: missing required column driver_id for drivers (the header has "park_id", "phone") (nothing was changed)`]);
      expect(await count('public.drivers')).toBe(0);
    });
  });
});
