/**
 * A streaming CSV record reader over bytes (RFC 4180: comma, double quotes,
 * "" inside quotes, CRLF or LF), built for imports that must lose nothing.
 *
 * Record boundaries are exactly those of a conforming reader: a record ends at
 * a line break outside quotes, and a quote opens a quoted field only at the
 * start of a field; a quoted field may hold any number of line breaks. A
 * record that breaks a rule (characters after a closing quote, a quote inside
 * an unquoted field, a quoted field still open at the end of the file, more
 * than MAX_RECORD_BYTES bytes) is reported whole, with the lines it spans, and
 * reading goes on after it: the reader never resynchronises inside a quoted
 * field, so no line of a quoted field is ever read as a record of its own
 * (the earlier reader restarted on the next physical line after 100 lines or
 * 4 MB, and fabricated records out of a long quoted field). After a stray
 * quote the rest of the field is read as unquoted text (quotes in it are
 * literal), as lenient RFC 4180 readers do, so one stray quote costs its own
 * record only.
 *
 * Memory stays bounded: a record longer than MAX_RECORD_BYTES is not kept; the
 * reader keeps its first bytes for the rejects file and scans on to its end.
 * Fields stay Buffers so that NUL bytes and invalid UTF-8 are detected per
 * record, not papered over with U+FFFD by a decoder.
 */

export interface CsvRecord {
  /** Physical line (1-based) where the record starts. */
  line: number;
  /** Physical lines the record spans (more than 1 when a quoted field holds a line break). */
  lines: number;
  fields: Buffer[];
  /** Set when the record breaks a rule; fields is then empty and the whole record is rejected. */
  error?: string;
  /** The raw bytes of the rejected record (errors only; the first RAW_PREVIEW_BYTES of a record too large to keep). */
  raw?: Buffer;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** A record may hold at most this many bytes; a longer one is rejected whole (no field can be valid: values are limited to 500 characters). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;
/** How much of a record too large to keep is written to the rejects file. */
const RAW_PREVIEW_BYTES = 1024;

/** Scanner states. */
const State = {
  /** At the start of a field. */
  FieldStart: 0,
  /** Inside an unquoted field. */
  Unquoted: 1,
  /** Inside a quoted field. */
  Quoted: 2,
  /** Just after a quote inside a quoted field: "" (an escaped quote) or the closing quote. */
  QuoteInQuoted: 3,
  /** After a closing quote and a CR: a LF ends the record, anything else is a stray character. */
  QuotedCr: 4,
} as const;
type State = (typeof State)[keyof typeof State];

const STRAY_AFTER = 'stray quote (characters after a closing quote)';
const STRAY_INSIDE = 'stray quote (a quote inside an unquoted field)';

class Reader {
  private buf: Buffer = Buffer.alloc(0);
  /** Next byte to scan. */
  private pos = 0;
  /** Start of the current record in buf (bytes before it are consumed). */
  private recStart = 0;
  /** Start of the current field's content in buf. */
  private fieldStart = 0;
  /** The current quoted field holds "" (to unescape when it ends). */
  private escaped = false;
  private state: State = State.FieldStart;
  private fields: Buffer[] = [];
  private error: string | null = null;
  /** Physical line where the current record starts, and the line breaks seen inside it. */
  private line = 1;
  private breaks = 0;
  /** Line where the current quoted field opened (for the unclosed-quote message). */
  private quoteLine = 0;
  /** Set once the record outgrew MAX_RECORD_BYTES: nothing more of it is kept. */
  private skipping = false;
  private preview: Buffer | null = null;
  /** Bytes of the current record already dropped (skipping). */
  private dropped = 0;
  /** The last byte fed: a file that ends with a line break has no line after it. */
  private lastByte = -1;

  /** Appends `chunk` to what is left of the buffer (the unfinished record: `next` returned null, so all of it was scanned). */
  feed(chunk: Buffer): void {
    if (chunk.length) this.lastByte = chunk[chunk.length - 1]!;
    const rest = this.buf.subarray(this.recStart);
    this.buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    this.pos -= this.recStart;
    this.fieldStart -= this.recStart;
    this.recStart = 0;
  }

  /**
   * The next record that ends in the buffer, or null when more bytes are needed.
   * One record at a time, not an array per chunk: records then die young
   * (a chunk's worth of live records tripled the garbage collector's time).
   */
  next(): CsvRecord | null {
    const rec = this.scan();
    if (rec) return rec;
    if (this.pos - this.recStart + this.dropped > MAX_RECORD_BYTES && !this.skipping) this.startSkipping();
    if (this.skipping) {
      /* Only the scanning state matters from here on: drop what was scanned. */
      this.dropped += this.pos - this.recStart;
      this.recStart = this.pos;
      this.fieldStart = this.pos;
    }
    return null;
  }

  /** The last record, when the file does not end with a line break. */
  end(): CsvRecord | null {
    if (this.pos === this.recStart && this.state === State.FieldStart && this.fields.length === 0 && !this.skipping) return null;
    const end = this.buf.length;
    switch (this.state) {
      case State.Quoted:
        if (this.lastByte === LF) this.breaks -= 1; // the file's final line break, inside the open field, starts no line
        this.error = `unclosed quote (the quoted field opened on line ${this.quoteLine} is never closed: it runs to the end of the file)`;
        break;
      case State.QuoteInQuoted:
      case State.QuotedCr:
        this.endQuotedField(end - (this.state === State.QuotedCr ? 2 : 1));
        break;
      case State.Unquoted:
        this.endUnquotedField(end);
        break;
      case State.FieldStart:
        this.fields.push(this.buf.subarray(end, end));
        break;
    }
    return this.emit(end, end);
  }

  private startSkipping(): void {
    this.skipping = true;
    this.preview = Buffer.from(this.buf.subarray(this.recStart, this.recStart + RAW_PREVIEW_BYTES));
    this.fields = [];
  }

  private endUnquotedField(end: number): void {
    if (this.skipping) return;
    const e = end > this.fieldStart && this.buf[end - 1] === CR ? end - 1 : end;
    this.fields.push(this.buf.subarray(this.fieldStart, e));
  }

  /** `close` is the position of the closing quote. */
  private endQuotedField(close: number): void {
    if (this.skipping) return;
    const raw = this.buf.subarray(this.fieldStart, close);
    this.fields.push(this.escaped ? unescapeQuotes(raw) : raw);
  }

  /** The record ends before `contentEnd` (its terminator excluded) and the next starts at `next`. */
  private emit(contentEnd: number, next: number): CsvRecord {
    const size = this.dropped + (contentEnd - this.recStart);
    const lines = this.breaks + 1;
    let rec: CsvRecord;
    if (this.skipping || size > MAX_RECORD_BYTES) {
      const preview = this.preview ?? Buffer.from(this.buf.subarray(this.recStart, this.recStart + RAW_PREVIEW_BYTES));
      const span = lines > 1 ? `lines ${this.line}-${this.line + lines - 1}` : `line ${this.line}`;
      const why = this.error?.startsWith('unclosed quote') ? `; ${this.error}` : '';
      rec = {
        line: this.line,
        lines,
        fields: [],
        error: `record too large (${span}, ${size} bytes; at most ${MAX_RECORD_BYTES} bytes)${why}`,
        raw: Buffer.concat([preview, Buffer.from(`… (${size - preview.length} more bytes not shown)`)]),
      };
    } else if (this.error) {
      const span = lines > 1 ? ` (lines ${this.line}-${this.line + lines - 1})` : '';
      rec = { line: this.line, lines, fields: [], error: `${this.error}${span}`, raw: this.buf.subarray(this.recStart, contentEnd) };
    } else {
      rec = { line: this.line, lines, fields: this.fields };
    }
    this.line += lines;
    this.breaks = 0;
    this.fields = [];
    this.error = null;
    this.skipping = false;
    this.preview = null;
    this.dropped = 0;
    this.state = State.FieldStart;
    this.recStart = next;
    this.fieldStart = next;
    this.pos = next;
    return rec;
  }

  /** Scans buf from pos up to the end of the next record (returned), or to the end of buf (null). */
  private scan(): CsvRecord | null {
    const b = this.buf;
    const n = b.length;
    let i = this.pos;
    while (i < n) {
      switch (this.state) {
        case State.FieldStart: {
          if (b[i] === QUOTE) {
            this.state = State.Quoted;
            this.quoteLine = this.line + this.breaks;
            this.fieldStart = i + 1;
            this.escaped = false;
            i += 1;
            continue;
          }
          this.fieldStart = i;
          this.state = State.Unquoted;
          continue;
        }
        case State.Unquoted: {
          let j = i;
          let c = 0;
          while (j < n) {
            c = b[j]!;
            if (c === COMMA || c === LF || c === QUOTE) break;
            j += 1;
          }
          if (j >= n) {
            i = n;
            continue;
          }
          if (c === QUOTE) {
            this.error ??= STRAY_INSIDE;
            i = j + 1;
            continue;
          }
          this.endUnquotedField(j);
          if (c === COMMA) {
            this.state = State.FieldStart;
            i = j + 1;
            continue;
          }
          // LF: the record ends.
          this.pos = j + 1;
          return this.emit(j > this.recStart && b[j - 1] === CR ? j - 1 : j, j + 1);
        }
        case State.Quoted: {
          const q = b.indexOf(QUOTE, i);
          const stop = q === -1 ? n : q;
          this.breaks += countLf(b, i, stop);
          if (q === -1) {
            i = n;
            continue;
          }
          this.state = State.QuoteInQuoted;
          i = q + 1;
          continue;
        }
        case State.QuoteInQuoted: {
          const c = b[i];
          if (c === QUOTE) {
            this.escaped = true;
            this.state = State.Quoted;
            i += 1;
            continue;
          }
          if (c === COMMA) {
            this.endQuotedField(i - 1);
            this.state = State.FieldStart;
            i += 1;
            continue;
          }
          if (c === LF) {
            this.endQuotedField(i - 1);
            this.pos = i + 1;
            return this.emit(i, i + 1);
          }
          if (c === CR) {
            this.state = State.QuotedCr;
            i += 1;
            continue;
          }
          this.error ??= STRAY_AFTER;
          this.state = State.Unquoted;
          continue;
        }
        case State.QuotedCr: {
          if (b[i] === LF) {
            this.endQuotedField(i - 2);
            this.pos = i + 1;
            return this.emit(i - 1, i + 1);
          }
          this.error ??= STRAY_AFTER;
          this.state = State.Unquoted;
          continue;
        }
      }
    }
    this.pos = i;
    return null;
  }
}

function unescapeQuotes(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  let q = raw.indexOf(QUOTE, from);
  while (q !== -1) {
    parts.push(raw.subarray(from, q + 1)); // keep one quote of the pair
    from = q + 2;
    q = raw.indexOf(QUOTE, from);
  }
  parts.push(raw.subarray(from));
  return Buffer.concat(parts);
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
  const reader = new Reader();
  let first = true;
  for await (const chunk of chunks) {
    let data = chunk;
    if (first) {
      first = false;
      if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
    }
    reader.feed(data);
    for (let rec = reader.next(); rec; rec = reader.next()) yield rec;
  }
  const last = reader.end();
  if (last) yield last;
}
