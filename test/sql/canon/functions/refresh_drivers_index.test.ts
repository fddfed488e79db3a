import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
const refresh = async () => (await db.pool.query('select * from canon.refresh_drivers_index()')).rows[0];
const state = async () => (await db.pool.query('select * from canon.drivers_index_state')).rows[0];
const indexRow = async (id: string) => (await db.pool.query('select * from canon.drivers_index where driver_id = $1', [id])).rows[0];

beforeEach(async () => resetData(db.pool));

describe('canon.refresh_drivers_index', () => {
  it('normalises every key of a driver with the canon functions', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', park_id: 'p1', phone: '+51 987 654 321', car_number: 'abc-123', license_number: 'q12-345678', full_name: 'PÉREZ de la CRUZ, José', hire_date: '2026-01-02' });
    await insertDriver(db.pool, { driver_id: 'd2', full_name: '  ', first_name: 'Ana', last_name: 'Núñez' });
    expect(await refresh()).toMatchObject({ inserted: '2', updated: '0', deleted: '0', total: '2', content_changed: true });
    expect(await indexRow('d1')).toMatchObject({
      park_id: 'p1', phone_norm: '987654321', plate_norm: 'ABC123', license_norm: 'Q12345678',
      name_norm: 'PEREZ DE LA CRUZ JOSE', name_tokens: ['CRUZ', 'JOSE', 'PEREZ'], hire_date: '2026-01-02',
    });
    expect(await indexRow('d2')).toMatchObject({ name_norm: 'ANA NUNEZ', name_tokens: ['ANA', 'NUNEZ'], phone_norm: null });
  });

  it('picks up inserted, changed and deleted drivers and writes only those', async () => {
    await insertDriver(db.pool, { driver_id: 'keep', phone: '51911111111' });
    await insertDriver(db.pool, { driver_id: 'change', phone: '51922222222' });
    await insertDriver(db.pool, { driver_id: 'drop', phone: '51933333333' });
    await refresh();
    const keptAt = (await indexRow('keep')).refreshed_at;
    await db.pool.query(`update public.drivers set phone = '51944444444' where driver_id = 'change'`);
    await db.pool.query(`delete from public.drivers where driver_id = 'drop'`);
    await insertDriver(db.pool, { driver_id: 'new', phone: '51955555555' });
    expect(await refresh()).toMatchObject({ inserted: '1', updated: '1', deleted: '1', total: '3', content_changed: true });
    expect((await indexRow('change')).phone_norm).toBe('944444444');
    expect(await indexRow('drop')).toBeUndefined();
    expect((await indexRow('new')).phone_norm).toBe('955555555');
    expect((await indexRow('keep')).refreshed_at).toEqual(keptAt);
  });

  it('records when the content last changed, not when it was last rebuilt', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51911111111' });
    await refresh();
    const first = await state();
    expect(first.content_changed_at).not.toBeNull();
    expect(first.row_count).toBe('1');
    const nothing = await refresh();
    expect(nothing).toMatchObject({ inserted: '0', updated: '0', deleted: '0', content_changed: false });
    const second = await state();
    expect(second.content_changed_at).toEqual(first.content_changed_at);
    expect(second.last_refreshed_at.getTime()).toBeGreaterThan(first.last_refreshed_at.getTime());
  });
});

describe('canon.refresh_drivers_index, first build', () => {
  it('loads an empty index without its secondary indexes and builds them again afterwards, with the same definitions', async () => {
    const definitions = async () =>
      (await db.pool.query(`select indexname, indexdef from pg_indexes where schemaname = 'canon' and tablename = 'drivers_index' order by indexname`)).rows;
    const before = await definitions();
    expect(before.map((r) => r.indexname)).toEqual(['drivers_index_license_norm_idx', 'drivers_index_phone_norm_idx', 'drivers_index_pkey', 'drivers_index_plate_norm_idx']);
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51911111111', car_number: 'ABC-123' });
    expect(await refresh()).toMatchObject({ inserted: '1', content_changed: true });
    expect(await definitions()).toEqual(before);
  });
});
