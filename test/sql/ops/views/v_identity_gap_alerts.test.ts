import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { leadAged, linkLead, person, resolvedLead, rowsOf, setOrigin } from '../../../support/gap.js';

interface AlertRow {
  lead_id: string;
  alert_type: string;
  severity: string;
  severity_rank: number;
  days_open: number | null;
  suggested_action: string;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

async function alertsOf(leadId: string): Promise<AlertRow[]> {
  return rowsOf<AlertRow>(db.pool, 'select * from ops.v_identity_gap_alerts where lead_id = $1 order by severity_rank desc, alert_type', [leadId]);
}
const types = (rows: AlertRow[]) => rows.map((r) => r.alert_type).sort();

async function noOriginLead(days: number | null): Promise<string> {
  const leadId = await leadAged(db.pool, days);
  await linkLead(db.pool, leadId, await person(db.pool));
  return leadId;
}

describe('ops.v_identity_gap_alerts', () => {
  it('raises nothing for a no_identity lead created today', async () => {
    expect(await alertsOf(await leadAged(db.pool, 0))).toEqual([]);
  });

  it('raises over_24h_no_identity (medium, rank 2) for a no_identity lead aged 1 day', async () => {
    const rows = await alertsOf(await leadAged(db.pool, 1));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ alert_type: 'over_24h_no_identity', severity: 'medium', severity_rank: 2, days_open: 1 });
    expect(rows[0]!.suggested_action).toMatch(/recover/);
  });

  it('raises only over_24h_no_identity at 6 days', async () => {
    expect(types(await alertsOf(await leadAged(db.pool, 6)))).toEqual(['over_24h_no_identity']);
  });

  it('gives a no_identity lead aged 7 days two rows: over_24h_no_identity and over_7d_unresolved (high, rank 3)', async () => {
    const rows = await alertsOf(await leadAged(db.pool, 7));
    expect(types(rows)).toEqual(['over_24h_no_identity', 'over_7d_unresolved']);
    expect(rows.find((r) => r.alert_type === 'over_7d_unresolved')).toMatchObject({ severity: 'high', severity_rank: 3, days_open: 7 });
  });

  it('raises nothing for a no_origin lead aged 6 days', async () => {
    expect(await alertsOf(await noOriginLead(6))).toEqual([]);
  });

  it('raises over_7d_unresolved, and not over_24h_no_identity, for a no_origin lead aged 7 days', async () => {
    expect(types(await alertsOf(await noOriginLead(7)))).toEqual(['over_7d_unresolved']);
  });

  it('raises inconsistent_origin (high) at any age, and only that rule, for an inconsistent origin', async () => {
    for (const days of [0, 10]) {
      const other = await resolvedLead(db.pool, 20);
      const leadId = await leadAged(db.pool, days);
      const p = await person(db.pool);
      await linkLead(db.pool, leadId, p);
      await setOrigin(db.pool, p, other.leadId);
      const rows = await alertsOf(leadId);
      expect(types(rows)).toEqual(['inconsistent_origin']);
      expect(rows[0]).toMatchObject({ severity: 'high', severity_rank: 3, days_open: days });
    }
  });

  it('raises nothing for a resolved lead, however old', async () => {
    expect(await alertsOf((await resolvedLead(db.pool, 30)).leadId)).toEqual([]);
  });

  it('raises nothing by age for a no_identity lead with an unknown date', async () => {
    expect(await alertsOf(await leadAged(db.pool, null))).toEqual([]);
  });

  it('counts one row per lead and rule over the whole view', async () => {
    await leadAged(db.pool, 8); // 2 alerts
    await leadAged(db.pool, 1); // 1 alert
    await noOriginLead(9); // 1 alert
    await resolvedLead(db.pool, 9); // none
    const [row] = await rowsOf<{ n: number }>(db.pool, 'select count(*)::int as n from ops.v_identity_gap_alerts');
    expect(row!.n).toBe(4);
  });
});
