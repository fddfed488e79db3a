/**
 * A streaming CSV record splitter over bytes (RFC 4180: comma, double quotes,
 * "" inside quotes, CRLF or LF), built for imports that must lose nothing.
 *
 * Why not csv-parse: with `skip_records_with_error`, csv-parse 6 does not
 * resynchronise after a stray quote; it swallows the following good lines into
 * the broken record (measured: `9,"ab"c,10` ate the next two lines), and an
 * unclosed quote eats the rest of the file. Here a record that cannot be
 * parsed costs exactly its first physical line: that line is reported with the
 * reason and parsing restarts on the next line. Fields stay Buffers so that
 * NUL bytes and invalid UTF-8 are detected per record, not papered over with
 * U+FFFD by a decoder.
 */

export interface CsvRecord {
  /** Physical line (1-based) where the record starts. */
  line: number;
  /** Physical lines the record spans (more than 1 when a quoted field holds a newline). */
  lines: number;
  fields: Buffer[];
  /** Set when the record could not be parsed; fields is then empty. */
  error?: string;
  /** The raw bytes of the rejected line (errors only). */
  raw?: Buffer;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** A quoted field may span at most this many lines before the record is declared broken (bounds memory). */
const MAX_RECORD_LINES = 100;
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

type ParseResult =
  | { kind: 'record'; fields: Buffer[]; end: number; lines: number }
  | { kind: 'incomplete' }
  | { kind: 'error'; message: string };

/** Parses one record starting at `start`; `eof` says whether more bytes can come. */
function parseRecord(buf: Buffer, start: number, eof: boolean): ParseResult {
  const fields: Buffer[] = [];
  let i = start;
  let newlines = 0;
  const n = buf.length;
  for (;;) {
    // One field.
    if (i < n && buf[i] === QUOTE) {
      const parts: Buffer[] = [];
      let segStart = i + 1;
      let j = i + 1;
      for (;;) {
        const q = buf.indexOf(QUOTE, j);
        if (q === -1) {
          if (!eof && n - start < MAX_RECORD_BYTES && newlines + countLf(buf, j, n) < MAX_RECORD_LINES) return { kind: 'incomplete' };
          return { kind: 'error', message: 'unclosed quote (a quoted field is never closed)' };
        }
        newlines += countLf(buf, j, q);
        if (newlines >= MAX_RECORD_LINES) return { kind: 'error', message: `unclosed quote (a quoted field runs over ${MAX_RECORD_LINES} lines)` };
        if (q + 1 >= n && !eof) return { kind: 'incomplete' };
        const next = q + 1 < n ? buf[q + 1] : -1;
        if (next === QUOTE) {
          parts.push(buf.subarray(segStart, q + 1));
          j = q + 2;
          segStart = j;
          continue;
        }
        parts.push(buf.subarray(segStart, q));
        i = q + 1;
        break;
      }
      fields.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      if (i >= n) {
        if (!eof) return { kind: 'incomplete' };
        return { kind: 'record', fields, end: n, lines: newlines + 1 };
      }
      const c = buf[i];
      if (c === COMMA) {
        i += 1;
        continue;
      }
      if (c === LF) return { kind: 'record', fields, end: i + 1, lines: newlines + 1 };
      if (c === CR) {
        if (i + 1 >= n && !eof) return { kind: 'incomplete' };
        if (i + 1 >= n || buf[i + 1] === LF) return { kind: 'record', fields, end: Math.min(i + 2, n), lines: newlines + 1 };
      }
      return { kind: 'error', message: 'stray quote (characters after a closing quote)' };
    }
    // Unquoted field: up to the next comma or end of line.
    let j = i;
    while (j < n) {
      const c = buf[j];
      if (c === COMMA || c === LF) break;
      if (c === QUOTE) return { kind: 'error', message: 'stray quote (a quote inside an unquoted field)' };
      j += 1;
    }
    if (j >= n && !eof) return { kind: 'incomplete' };
    let fieldEnd = j;
    if (j < n && buf[j] === LF && fieldEnd > i && buf[fieldEnd - 1] === CR) fieldEnd -= 1;
    else if (j >= n && fieldEnd > i && buf[fieldEnd - 1] === CR) fieldEnd -= 1;
    fields.push(buf.subarray(i, fieldEnd));
    if (j >= n) return { kind: 'record', fields, end: n, lines: newlines + 1 };
    if (buf[j] === COMMA) {
      i = j + 1;
      continue;
    }
    return { kind: 'record', fields, end: j + 1, lines: newlines + 1 };
  }
}

function countLf(buf: Buffer, from: number, to: number): number {
  let count = 0;
  let k = buf.indexOf(LF, from);
  while (k !== -1 && k < to) {
    count += 1;
    k = buf.indexOf(LF, k + 1);
  }
  return count;
}

/** Yields every record of the byte stream, with its starting line; blank lines are records with one empty field. */
export async function* csvRecords(chunks: AsyncIterable<Buffer>): AsyncGenerator<CsvRecord> {
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  let line = 1;
  let first = true;
  const drain = function* (eof: boolean): Generator<CsvRecord> {
    while (pos < buf.length) {
      const r = parseRecord(buf, pos, eof);
      if (r.kind === 'incomplete') return;
      if (r.kind === 'record') {
        yield { line, lines: r.lines, fields: r.fields };
        line += r.lines;
        pos = r.end;
        continue;
      }
      // Broken record: reject its first physical line, restart on the next one.
      const lf = buf.indexOf(LF, pos);
      if (lf === -1 && !eof) return;
      const end = lf === -1 ? buf.length : lf + 1;
      yield { line, lines: 1, fields: [], error: r.message, raw: buf.subarray(pos, lf === -1 ? end : lf) };
      line += 1;
      pos = end;
    }
  };
  for await (const chunk of chunks) {
    let data = chunk;
    if (first) {
      first = false;
      if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
    }
    buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), data]) : data;
    pos = 0;
    yield* drain(false);
  }
  yield* drain(true);
}
