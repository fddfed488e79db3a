import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { prng } from '../../src/generate/generate.js';
import { csvRecords, MAX_RECORD_BYTES, type CsvRecord } from '../../src/import/csv-records.js';

/** Reads `input` through csvRecords, fed in chunks of the given sizes (cycled). */
async function read(input: Buffer | string, chunkSizes: number[] = [1 << 20]): Promise<CsvRecord[]> {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  async function* chunks() {
    let at = 0;
    let k = 0;
    while (at < bytes.length) {
      const size = chunkSizes[k++ % chunkSizes.length]!;
      yield bytes.subarray(at, at + size);
      at += size;
    }
  }
  const out: CsvRecord[] = [];
  for await (const rec of csvRecords(chunks())) out.push(rec);
  return out;
}
const texts = (recs: CsvRecord[]) => recs.map((r) => (r.error ? { line: r.line, lines: r.lines, error: r.error } : { line: r.line, lines: r.lines, fields: r.fields.map((f) => f.toString()) }));


describe('csvRecords reads records as a conforming RFC 4180 reader does', () => {
  it('reads a quoted field of 150 lines as one field of one record, and the records after it', async () => {
    const body = Array.from({ length: 149 }, (_, k) => (k === 120 ? 'fake,2026-11-01,looks,like,a,record' : `l${k}`)).join('\n');
    const recs = await read(`id,note,x\n1,"${body}",a\n2,plain,b\n`);
    expect(texts(recs)).toEqual([
      { line: 1, lines: 1, fields: ['id', 'note', 'x'] },
      { line: 2, lines: 149, fields: ['1', body, 'a'] },
      { line: 151, lines: 1, fields: ['2', 'plain', 'b'] },
    ]);
  });

  it('rejects a record over the size limit whole, with its lines, and never reads a line of its quoted field as a record', async () => {
    const filler = `${'y'.repeat(1000)}\nfake,2026-11-01,looks,like,a,record\n`;
    const big = filler.repeat(Math.ceil((MAX_RECORD_BYTES + 1) / filler.length));
    const spans = (big.match(/\n/g) ?? []).length + 1;
    const input = Buffer.from(`id,note\n1,ok\n2,"${big}"\n3,after\n`);
    for (const chunking of [[1 << 20], [65536, 7, 1000003]]) {
      const recs = await read(input, chunking);
      expect(recs.map((r) => [r.line, r.lines, r.error ? 'error' : r.fields.map((f) => f.toString()).join('|')])).toEqual([
        [1, 1, 'id|note'],
        [2, 1, '1|ok'],
        [3, spans, 'error'],
        [3 + spans, 1, '3|after'],
      ]);
      expect(recs[2]!.error).toBe(`record too large (lines 3-${2 + spans}, ${big.length + 4} bytes; at most ${MAX_RECORD_BYTES} bytes)`);
      expect(recs[2]!.raw!.length).toBeLessThan(2048); // the rejects file gets the start of it, memory stays bounded
      expect(recs[2]!.raw!.toString()).toMatch(/^2,"y{1000}\n/);
    }
  });

  it('rejects a record with a stray quote whole and goes on with the next record', async () => {
    const recs = await read('a,b,c\n9,"ab"c,10\n11,12,13\nx,y"z,1\n"multi\nline"q,2,3\n4,5,6\n');
    expect(texts(recs)).toEqual([
      { line: 1, lines: 1, fields: ['a', 'b', 'c'] },
      { line: 2, lines: 1, error: 'stray quote (characters after a closing quote)' },
      { line: 3, lines: 1, fields: ['11', '12', '13'] },
      { line: 4, lines: 1, error: 'stray quote (a quote inside an unquoted field)' },
      { line: 5, lines: 2, error: 'stray quote (characters after a closing quote) (lines 5-6)' },
      { line: 7, lines: 1, fields: ['4', '5', '6'] },
    ]);
    expect(recs[4]!.raw!.toString()).toBe('"multi\nline"q,2,3');
  });

  it('rejects a quoted field still open at the end of the file as one record spanning the rest', async () => {
    const recs = await read('a,b\n1,"open\n2,two\n3,three\n');
    expect(await read('a,b\n1,"open\n2,two\n3,three').then((r) => r[1]!.error)).toMatch(/\(lines 2-4\)$/);
    expect(texts(recs)).toEqual([
      { line: 1, lines: 1, fields: ['a', 'b'] },
      { line: 2, lines: 3, error: 'unclosed quote (the quoted field opened on line 2 is never closed: it runs to the end of the file) (lines 2-4)' },
    ]);
  });

  it('agrees with csv-parse on random valid files, whatever the chunk boundaries', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rand = prng(seed); // seeded (the generator's sfc32), so that a failure names its case
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
      const eol = pick(['\n', '\r\n']);
      const width = 1 + Math.floor(rand() * 4);
      const rows: string[][] = [];
      for (let r = 0; r < 1 + Math.floor(rand() * 40); r++) {
        rows.push(Array.from({ length: width }, () => {
          const len = Math.floor(rand() * 12);
          let s = '';
          for (let k = 0; k < len; k++) s += pick(['a', 'é', ' ', ',', '"', '\n', '\r\n', 'x', '1']);
          return s;
        }));
      }
      const text = rows.map((row) => row.map((f) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f)).join(',')).join(eol) + (rand() < 0.5 ? eol : '');
      const expected = parse(text, { relax_column_count: true }) as string[][];
      const chunking = [1 + Math.floor(rand() * 7), 1 + Math.floor(rand() * 50)];
      const recs = await read(text, chunking);
      expect(recs.map((r) => r.error ?? r.fields.map((f) => f.toString())), `seed ${seed}`).toEqual(expected);
      // Line numbers: each record starts on the line after the previous one ends.
      let line = 1;
      for (const r of recs) {
        expect(r.line, `seed ${seed}`).toBe(line);
        line += r.lines;
      }
    }
  });
});
