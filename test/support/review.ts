import type pg from 'pg';
import { insertDriver, insertLead, refreshIndex } from './fixtures.js';
import { linkDriver, linkLead, person, setOrigin } from './gap.js';

type Db = pg.Pool | pg.ClientBase;

/** A candidate row as a recovery run stores it in ops.lead_candidates (the review queue's store). */
export async function addCandidate(
  db: Db,
  c: { lead: string; rank: number; driver: string; score: number; rule?: string; reason?: string; personKey?: string | null; evidence?: unknown },
): Promise<void> {
  await db.query(
    `insert into ops.lead_candidates (lead_id, candidate_rank, driver_id, person_key, match_rule, score, evidence, queue_reason)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
    [c.lead, c.rank, c.driver, c.personKey ?? null, c.rule ?? 'R3_PLATE_NAME', c.score,
     JSON.stringify(c.evidence ?? { fields: { plate: { level: 'exact', weight: 9.1 }, name: { level: 'one_edit', weight: 3.2 } }, weight: 12.3, score: c.score }), c.reason ?? 'REVIEW_BAND'],
  );
}

export interface ReviewCase {
  /** The lead in review: ROSA QUISPE MAMANI, plate ABC 123, phone ...000, 2026-11-01. */
  lead: string;
  /** Candidate 1: a driver with no person (plate ABC-123, same name, hired 2026-10-20). The exact rules would link it (R3). */
  unlinked: string;
  /** Candidate 2: a driver linked to `personKey`, whose origin is `earlierLead` (2026-01-01). */
  linked: string;
  personKey: string;
  earlierLead: string;
}

/** One lead in the review queue with two candidates, as a run would leave it; `tag` keeps ids apart within a file. */
export async function seedReviewCase(db: pg.Pool, tag = 'a'): Promise<ReviewCase> {
  const unlinked = await insertDriver(db, { driver_id: `drv-${tag}-1`, park_id: 'park-1', phone: '51987001001', car_number: 'ABC-123',
    full_name: 'QUISPE MAMANI ROSA', hire_date: '2026-10-20' });
  const linked = await insertDriver(db, { driver_id: `drv-${tag}-2`, park_id: 'park-2', phone: '51987001002', car_number: 'ABC-128',
    full_name: 'QUISPE MAMANI ROSA ELENA', hire_date: '2025-01-01' });
  await refreshIndex(db);
  const lead = await insertLead(db, { first_name: 'ROSA', last_name: 'QUISPE MAMANI', asset_plate_number: 'ABC 123', park_phone: '987001000',
    lead_created_at: '2026-11-01 10:00:00', park_name: 'Park One' });
  const earlierLead = await insertLead(db, { first_name: 'ROSA ELENA', last_name: 'QUISPE MAMANI', asset_plate_number: 'ABC-128',
    park_phone: '987001002', lead_created_at: '2026-01-01 10:00:00' });
  const personKey = await person(db);
  await linkDriver(db, linked, personKey);
  await linkLead(db, earlierLead, personKey);
  await setOrigin(db, personKey, earlierLead);
  await addCandidate(db, { lead, rank: 1, driver: unlinked, score: 82 });
  await addCandidate(db, { lead, rank: 2, driver: linked, score: 55, personKey });
  return { lead, unlinked, linked, personKey, earlierLead };
}

export async function resetReview(db: pg.Pool): Promise<void> {
  await db.query('truncate ops.lead_candidates, ops.review_decisions restart identity');
}
