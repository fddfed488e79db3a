import fc from 'fast-check';
import parsePhoneNumber, { type PhoneNumber } from 'libphonenumber-js/max';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

/*
 * Property-based tests of the normalisers (SPEC 3.1), through SQL. Each
 * fast-check run is one batch of inputs and one SQL call, so a few hundred
 * inputs per property cost a handful of round trips.
 */
const db = await useTestDatabase();
const RUNS = Number(process.env.IDGAP_PROPERTY_RUNS ?? 8);
const BATCH = { minLength: 40, maxLength: 60 };
const tried: Record<string, number> = {};
afterAll(() => console.log(`property inputs tried: ${JSON.stringify(tried)}`));
const count = (property: string, n: number) => void (tried[property] = (tried[property] ?? 0) + n);

/** PostgreSQL text cannot hold NUL: the one character no input can contain. */
const noNul = (s: string) => s.replace(/\u0000/g, '');
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...'0123456789 +-()./#*'.split('')), maxLength: 24 }),
  fc.string({ unit: fc.constantFrom(...'ÁÉÍÓÚÑÜáéíóúñü-\' .aAbBzZ'.split('')), maxLength: 30 }),
  fc.string({ unit: fc.constantFrom(...'abc-123 ABC·_'.split('')), maxLength: 12 }),
).map(noNul);
const batchOf = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, BATCH);

describe('normalisers on arbitrary strings (unicode, separators, accents, garbage)', () => {
  it('norm_phone never throws, is idempotent, and gives NULL or 7+ digits', async () => {
    await fc.assert(
      fc.asyncProperty(batchOf(anyText), async (xs) => {
        count('norm_phone', xs.length);
        const { rows } = await db.pool.query(
          `select x, p, canon.norm_phone(p, '51') as pp from unnest($1::text[]) as t(x), lateral (select canon.norm_phone(x, '51') as p) as n`, [xs]);
        for (const r of rows) {
          expect(r.pp, JSON.stringify(r.x)).toBe(r.p);
          if (r.p !== null) expect(r.p).toMatch(/^[1-9][0-9]{6,}$/);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('norm_plate never throws, is idempotent, and gives NULL or [A-Z0-9]+', async () => {
    await fc.assert(
      fc.asyncProperty(batchOf(anyText), async (xs) => {
        count('norm_plate', xs.length);
        const { rows } = await db.pool.query(
          `select x, p, canon.norm_plate(p) as pp from unnest($1::text[]) as t(x), lateral (select canon.norm_plate(x) as p) as n`, [xs]);
        for (const r of rows) {
          expect(r.pp, JSON.stringify(r.x)).toBe(r.p);
          if (r.p !== null) expect(r.p).toMatch(/^[A-Z0-9]+$/);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('norm_name never throws, is idempotent, and has no edge or double spaces', async () => {
    await fc.assert(
      fc.asyncProperty(batchOf(anyText), async (xs) => {
        count('norm_name', xs.length);
        const { rows } = await db.pool.query(
          `select x, p, canon.norm_name(p) as pp from unnest($1::text[]) as t(x), lateral (select canon.norm_name(x) as p) as n`, [xs]);
        for (const r of rows) {
          expect(r.pp, JSON.stringify(r.x)).toBe(r.p);
          if (r.p !== null) expect(r.p, JSON.stringify(r.x)).not.toMatch(/^ | $| {2}|[a-z0-9]/);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('name_tokens never throws, gives distinct sorted tokens without particles, and is stable when re-tokenised', async () => {
    await fc.assert(
      fc.asyncProperty(batchOf(anyText), async (xs) => {
        count('name_tokens', xs.length);
        const { rows } = await db.pool.query(
          `select x, t, canon.name_tokens(array_to_string(t, ' ')) as tt
             from unnest($1::text[]) as u(x), lateral (select canon.name_tokens(x) as t) as n`, [xs]);
        for (const r of rows) {
          const t = r.t as string[];
          expect(r.tt, JSON.stringify(r.x)).toEqual(t);
          expect(new Set(t).size).toBe(t.length);
          expect([...t].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(t);
          for (const token of t) expect(['DE', 'DEL', 'LA', 'LOS', 'LAS', 'EL', 'Y', 'E', '']).not.toContain(token);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('name_similarity of two names is in [0, 1], symmetric, and 1 for a name against itself', async () => {
    await fc.assert(
      fc.asyncProperty(batchOf(fc.tuple(anyText, anyText)), async (pairs) => {
        count('name_similarity', pairs.length);
        const { rows } = await db.pool.query(
          `select a, b, canon.name_similarity(ta, tb)::float8 as ab, canon.name_similarity(tb, ta)::float8 as ba,
                  canon.name_similarity(ta, ta)::float8 as aa, cardinality(ta) as na
             from unnest($1::text[], $2::text[]) as u(a, b),
                  lateral (select canon.name_tokens(a) as ta, canon.name_tokens(b) as tb) as t`,
          [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
        for (const r of rows) {
          const at = JSON.stringify([r.a, r.b]);
          expect(r.ab, at).toBeGreaterThanOrEqual(0);
          expect(r.ab, at).toBeLessThanOrEqual(1);
          expect(r.ab, at).toBe(r.ba);
          expect(r.aa, at).toBe(r.na > 0 ? 1 : 0);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('parse_date_file never throws on garbage, and every result reads back as itself', async () => {
    await fc.assert(
      fc.asyncProperty(batchOf(anyText), async (xs) => {
        count('parse_date_file', xs.length);
        const { rows } = await db.pool.query(
          `select x, d::text as d, canon.parse_date_file(d::text)::text as dd from unnest($1::text[]) as t(x), lateral (select canon.parse_date_file(x) as d) as n`, [xs]);
        for (const r of rows) expect(r.dd, JSON.stringify(r.x)).toBe(r.d);
      }),
      { numRuns: RUNS },
    );
  });

  it('parse_date_file reads every real date in DD-MM-YYYY and YYYY-MM-DD', async () => {
    const day = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    await fc.assert(
      fc.asyncProperty(batchOf(day), async (days) => {
        count('parse_date_file (real dates)', days.length);
        const dmy = days.map((d) => `${d.slice(8, 10)}-${d.slice(5, 7)}-${d.slice(0, 4)}`);
        const { rows } = await db.pool.query(
          `select canon.parse_date_file(a)::text as a, canon.parse_date_file(b)::text as b from unnest($1::text[], $2::text[]) as t(a, b)`, [days, dmy]);
        rows.forEach((r, i) => expect([r.a, r.b], days[i]).toEqual([days[i], days[i]]));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('norm_phone against libphonenumber-js on Peruvian numbers', () => {
  /* Mobiles (9 + 8 digits), Lima lines (1 + 7 digits), provincial lines (2-digit area + 6 digits). */
  const nationalNumber = fc.oneof(
    fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: 8, maxLength: 8 }).map((s) => `9${s}`),
    fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: 7, maxLength: 7 }).map((s) => `1${s}`),
    fc.tuple(fc.integer({ min: 41, max: 84 }), fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: 6, maxLength: 6 })).map(([a, s]) => `${a}${s}`),
  );
  /** The ways people type a number: E.164, international and national formats, 00 prefix, bare digits with the country code. */
  const spellings = (n: PhoneNumber): string[] => [
    n.number,
    n.formatInternational(),
    n.formatNational(),
    `00${n.number.slice(1)}`,
    `(00${n.countryCallingCode}) ${n.nationalNumber}`,
    n.number.slice(1),
    n.formatInternational().replace(/ /g, '-'),
  ];

  it('gives the national significant number for every number libphonenumber-js considers valid, however it is written', async () => {
    let valid = 0;
    let spelled = 0;
    await fc.assert(
      fc.asyncProperty(batchOf(nationalNumber), async (numbers) => {
        const parsed = numbers.map((n) => parsePhoneNumber(`+51${n}`)).filter((p): p is PhoneNumber => p !== undefined && p.isValid() && p.country === 'PE');
        valid += parsed.length;
        const inputs = parsed.flatMap((p) => spellings(p).map((s) => [s, p.nationalNumber as string] as const));
        spelled += inputs.length;
        count('norm_phone vs libphonenumber (spellings)', inputs.length);
        const { rows } = await db.pool.query(`select x, canon.norm_phone(x, '51') as p from unnest($1::text[]) as t(x)`, [inputs.map((i) => i[0])]);
        rows.forEach((r, i) => expect(r.p, r.x).toBe(inputs[i]![1]));
      }),
      { numRuns: RUNS },
    );
    tried['valid PE numbers'] = valid;
    expect(valid).toBeGreaterThan(RUNS * 10);
    expect(spelled).toBe(valid * 7);
  });
});
