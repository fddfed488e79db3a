import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();
const one = async <T>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows[0]!.v as T;

describe('canon.norm_name', () => {
  it.each([
    ['José  Pérez-García', 'JOSE PEREZ GARCIA'],
    ['  ÑUÑEZ de la Cruz ', 'NUNEZ DE LA CRUZ'],
    ["O'Brien", 'O BRIEN'],
    ['María 2 Ávila.', 'MARIA AVILA'],
  ])('normalises %s to %s', async (raw, expected) => {
    expect(await one('select canon.norm_name($1) as v', [raw])).toBe(expected);
  });

  it('gives NULL for a name with no letters', async () => {
    expect(await one('select canon.norm_name($1) as v', ['  -- 12 '])).toBeNull();
    expect(await one('select canon.norm_name($1) as v', [null])).toBeNull();
  });

  it('is idempotent', async () => {
    expect(await one('select canon.norm_name(canon.norm_name($1)) = canon.norm_name($1) as v', ['Ñandú  de-la Peña'])).toBe(true);
  });
});

describe('canon.name_tokens', () => {
  it('drops the particles, ignores order and duplicates, and sorts', async () => {
    expect(await one('select canon.name_tokens($1) as v', ['María de los Ángeles QUISPE y Quispe'])).toEqual(['ANGELES', 'MARIA', 'QUISPE']);
    expect(await one('select canon.name_tokens($1) = canon.name_tokens($2) as v', ['QUISPE MAMANI JUAN', 'Juan Quispe Mamani'])).toBe(true);
  });

  it('gives an empty array for no name', async () => {
    expect(await one('select canon.name_tokens($1) as v', [null])).toEqual([]);
  });

  it('is idempotent through its own output', async () => {
    expect(await one(`select canon.name_tokens(array_to_string(canon.name_tokens($1), ' ')) = canon.name_tokens($1) as v`, ['Ana de la Torre-Vega'])).toBe(true);
  });
});

describe('canon.name_similarity', () => {
  it('scores a given name and a surname against a driver with two surnames exactly 2/3, which passes 0.66', async () => {
    const v = await one<string>(`select canon.name_similarity(canon.name_tokens('Juan Perez'), canon.name_tokens('PEREZ GOMEZ JUAN')) as v`);
    expect(Number(v)).toBeCloseTo(2 / 3, 12);
    expect(await one(`select canon.name_similarity(canon.name_tokens('Juan Perez'), canon.name_tokens('PEREZ GOMEZ JUAN')) >= 0.66 as v`)).toBe(true);
  });

  it('is 1 for the same tokens in another order with accents, and 0 for disjoint or empty names', async () => {
    expect(Number(await one(`select canon.name_similarity(canon.name_tokens('José Pérez'), canon.name_tokens('PEREZ JOSE')) as v`))).toBe(1);
    expect(Number(await one(`select canon.name_similarity(canon.name_tokens('Ana Soto'), canon.name_tokens('LUIS RAMOS')) as v`))).toBe(0);
    expect(Number(await one(`select canon.name_similarity('{}', canon.name_tokens('LUIS')) as v`))).toBe(0);
  });

  it('is symmetric', async () => {
    expect(await one(`select canon.name_similarity(canon.name_tokens('Ana Maria Soto'), canon.name_tokens('SOTO ANA'))
                           = canon.name_similarity(canon.name_tokens('SOTO ANA'), canon.name_tokens('Ana Maria Soto')) as v`)).toBe(true);
  });
});

describe('canon.parse_date_file', () => {
  it.each([
    ['25-11-2026', '2026-11-25'],
    ['2026-11-25', '2026-11-25'],
    [' 01-02-2024 ', '2024-02-01'],
    ['29-02-2024', '2024-02-29'],
  ])('parses %s as %s', async (raw, expected) => {
    expect(await one('select canon.parse_date_file($1) as v', [raw])).toBe(expected);
  });

  it.each([['31-02-2024'], ['29-02-2023'], ['2024-13-01'], ['00-01-2024'], ['0000-01-01'], ['25/11/2026'], ['yesterday'], [''], [null]])(
    'gives NULL for %j without throwing',
    async (raw) => {
      expect(await one('select canon.parse_date_file($1) as v', [raw])).toBeNull();
    },
  );

  it('is idempotent through the ISO form', async () => {
    expect(await one('select canon.parse_date_file(canon.parse_date_file($1)::text) = canon.parse_date_file($1) as v', ['05-06-2025'])).toBe(true);
  });
});

describe('canon.name_similarity on arrays with repeats', () => {
  it('treats its arguments as sets, so a repeated token counts once and the score stays in [0, 1] and symmetric', async () => {
    expect(Number(await one(`select canon.name_similarity('{X,X}', '{X}') as v`))).toBe(1);
    expect(Number(await one(`select canon.name_similarity('{X}', '{X,X}') as v`))).toBe(1);
    expect(Number(await one(`select canon.name_similarity('{A,B,A}', '{A,C}') as v`))).toBeCloseTo((1 / 3 + 1 / 2) / 2, 12);
  });
});
