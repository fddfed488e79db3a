import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { linkDriver, resolvedLead, rowsOf } from '../../../support/gap.js';

interface ActivityRow {
  activity_date: string | null;
  is_unparsed_date: boolean;
  drivers_without_identity_count: number;
  trips_from_unlinked_drivers: string;
  activity_rows: number;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

async function activity(rows: Array<[string, string, number | null]>): Promise<void> {
  for (const [driverId, dateFile, orders] of rows) {
    await db.pool.query('insert into public.summary_daily (driver_id, date_file, count_orders_completed) values ($1, $2, $3)', [driverId, dateFile, orders]);
  }
}

async function view(): Promise<ActivityRow[]> {
  return rowsOf<ActivityRow>(db.pool, 'select * from ops.v_identity_driver_unlinked_activity order by activity_date nulls last');
}

describe('ops.v_identity_driver_unlinked_activity', () => {
  it('reads DD-MM-YYYY and YYYY-MM-DD as the same day', async () => {
    await activity([
      ['d1', '01-11-2026', 5],
      ['d2', '2026-11-01', 3],
      ['d3', '02-11-2026', 7],
    ]);
    const rows = await view();
    expect(rows.map((r) => [r.activity_date, r.drivers_without_identity_count, Number(r.trips_from_unlinked_drivers)])).toEqual([
      ['2026-11-01', 2, 8],
      ['2026-11-02', 1, 7],
    ]);
  });

  it('counts a driver once per day even when the day appears in both formats', async () => {
    await activity([
      ['d1', '01-11-2026', 5],
      ['d1', '2026-11-01', 2],
    ]);
    const [row] = await view();
    expect(row).toMatchObject({ activity_date: '2026-11-01', drivers_without_identity_count: 1, activity_rows: 2 });
    expect(Number(row!.trips_from_unlinked_drivers)).toBe(7);
  });

  it('counts garbage dates in their own row with a null date, never dropping them', async () => {
    await activity([
      ['d1', 'n/a', 4],
      ['d2', '31-02-2026', 6],
      ['d2', '2026/11/01', 1],
      ['d3', '01-11-2026', 2],
    ]);
    const rows = await view();
    const garbage = rows.find((r) => r.activity_date === null);
    expect(garbage).toMatchObject({ is_unparsed_date: true, drivers_without_identity_count: 2, activity_rows: 3 });
    expect(Number(garbage!.trips_from_unlinked_drivers)).toBe(11);
    expect(rows.filter((r) => r.activity_date !== null).every((r) => !r.is_unparsed_date)).toBe(true);
  });

  it('leaves out drivers linked to a person', async () => {
    const { personKey } = await resolvedLead(db.pool, 3);
    await linkDriver(db.pool, 'linked', personKey);
    await activity([
      ['linked', '01-11-2026', 50],
      ['free', '01-11-2026', 1],
    ]);
    const rows = await view();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ drivers_without_identity_count: 1 });
    expect(Number(rows[0]!.trips_from_unlinked_drivers)).toBe(1);
  });

  it('counts trips of a day with only null order counts as 0', async () => {
    await activity([['d1', '01-11-2026', null]]);
    const [row] = await view();
    expect(Number(row!.trips_from_unlinked_drivers)).toBe(0);
    expect(row!.drivers_without_identity_count).toBe(1);
  });
});
