import type pg from 'pg';

/**
 * The review queue for people: pages of ops.review_queue_page (security definer; the queue view itself is granted to
 * nobody), decisions through ops.review_decide, and the terminal's side-by-side view. No rule lives here: what agrees
 * is computed by ops.v_identity_review_queue; refusals are the function's, told apart by SQLSTATE.
 */

export interface ReviewCandidate {
  candidate_rank: number;
  driver_id: string;
  person_key: string | null;
  score: number;
  match_rule: string;
  queue_reason: string;
  evidence: unknown;
  driver: { name: string | null; plate: string | null; phone_masked: string | null; hire_date: string | null; park: string | null };
  compared: {
    phone_agrees: boolean | null;
    plate_agrees: boolean | null;
    name_similarity: number | null;
    name_agrees: boolean | null;
    days_after_hire: number | null;
    hire_date_agrees: boolean | null;
  };
  run_id: number | null;
  evaluated_at: string;
}

export interface ReviewItem {
  lead_id: string;
  queue_reason: string;
  lead: { name: string | null; plate: string | null; phone_masked: string | null; date: string | null; park: string | null };
  candidates: ReviewCandidate[];
}

export interface ReviewPage {
  total_leads: number;
  items: ReviewItem[];
}

export async function readReviewPage(pool: pg.Pool, opts: { page: number; pageSize: number; leadId?: string }): Promise<ReviewPage> {
  const { rows } = await pool.query<{ total_leads: string; item: ReviewItem }>(
    'select page.total_leads, page.item from ops.review_queue_page($1, $2, $3) as page',
    [opts.page, opts.pageSize, opts.leadId ?? null],
  );
  if (rows.length === 0 && opts.page > 1) {
    // Past the last page: the total still says how many there are.
    const { rows: first } = await pool.query<{ total_leads: string }>('select page.total_leads from ops.review_queue_page(1, 1, $1) as page', [opts.leadId ?? null]);
    return { total_leads: Number(first[0]?.total_leads ?? 0), items: [] };
  }
  return { total_leads: Number(rows[0]?.total_leads ?? 0), items: rows.map((r) => r.item) };
}

export interface ReviewDecision {
  decision_id: number;
  decision: 'accept' | 'reject';
  lead_id: string;
  driver_id: string;
  person_key: string | null;
  person_created: boolean;
  link_id: number | null;
  job_status: string | null;
  origin_source_id: string | null;
}

/** A decision ops.review_decide refused; `kind` from its SQLSTATE (the API's status codes, the CLI's messages). */
export class ReviewRefused extends Error {
  constructor(
    readonly kind: 'invalid' | 'not_found' | 'conflict' | 'busy',
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ReviewRefused';
  }
}

const REFUSALS: Record<string, ReviewRefused['kind']> = { '22023': 'invalid', P0002: 'not_found', '55000': 'conflict', '55P03': 'busy' };

export async function decideReview(
  pool: pg.Pool,
  d: { leadId: string; driverId: string; decision: string; reviewer: string; note?: string | null },
): Promise<ReviewDecision> {
  try {
    const { rows } = await pool.query<ReviewDecision & { decision_id: string; link_id: string | null }>(
      'select * from ops.review_decide($1, $2, $3, $4, $5)',
      [d.leadId, d.driverId, d.decision, d.reviewer, d.note ?? null],
    );
    const r = rows[0]!;
    return { ...r, decision_id: Number(r.decision_id), link_id: r.link_id === null ? null : Number(r.link_id) };
  } catch (e) {
    const err = e as { code?: string; message?: string; hint?: string };
    const kind = err.code === undefined ? undefined : REFUSALS[err.code];
    if (kind) throw new ReviewRefused(kind, err.message ?? 'refused', err.hint);
    throw e;
  }
}

/* ---- the terminal ---- */

const mark = (agrees: boolean | null | undefined) => (agrees === true ? '=' : agrees === false ? '≠' : '?');
const show = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v));
const clip = (s: string, width: number) => (s.length > width ? `${s.slice(0, width - 1)}…` : s);
/** The levels of the engine's evidence (evidence.fields: field -> {level, weight}), e.g. "plate one_edit, name exact". */
const levels = (evidence: unknown) => {
  const fields = (evidence as { fields?: Record<string, { level?: string }> } | null)?.fields;
  if (!fields || typeof fields !== 'object') return '-';
  return Object.entries(fields).map(([field, v]) => `${field} ${show(v?.level)}`).join(', ') || '-';
};

/** One line per lead: its best candidate, score and reason. */
export function renderReviewList(page: ReviewPage): string {
  if (page.items.length === 0) return page.total_leads === 0 ? 'the review queue is empty\n' : `no leads on this page (${page.total_leads} in the queue)\n`;
  const lines = page.items.map((item) => {
    const best = item.candidates[0];
    return [
      item.lead_id.padEnd(34),
      item.queue_reason.padEnd(20),
      String(item.candidates.length).padStart(3),
      best ? `${best.driver_id} (${best.score})` : '-',
    ].join('  ');
  });
  const header = ['LEAD'.padEnd(34), 'REASON'.padEnd(20), 'N'.padStart(3), 'BEST CANDIDATE (SCORE)'].join('  ');
  return `${header}\n${lines.join('\n')}\n${page.items.length} of ${page.total_leads} leads in the queue; idgap review show LEAD compares one side by side\n`;
}

/** The lead and its candidates side by side, each compared field marked = (agrees), ≠ (disagrees) or ? (missing). */
export function renderReviewLead(item: ReviewItem): string {
  const width = 30;
  const hire = (c: ReviewCandidate) =>
    c.driver.hire_date === null ? '-' : `${c.driver.hire_date} (${c.compared.days_after_hire !== null && c.compared.days_after_hire >= 0 ? '+' : ''}${show(c.compared.days_after_hire)} d)`;
  const rows: Array<[string, string, Array<string>]> = [
    ['', 'LEAD', item.candidates.map((c) => `#${c.candidate_rank} ${c.driver_id}`)],
    ['score / rule', '', item.candidates.map((c) => `${c.score} ${c.match_rule}`)],
    ['name', show(item.lead.name), item.candidates.map((c) => `${mark(c.compared.name_agrees)} ${show(c.driver.name)} (${show(c.compared.name_similarity)})`)],
    ['plate', show(item.lead.plate), item.candidates.map((c) => `${mark(c.compared.plate_agrees)} ${show(c.driver.plate)}`)],
    ['phone', show(item.lead.phone_masked), item.candidates.map((c) => `${mark(c.compared.phone_agrees)} ${show(c.driver.phone_masked)}`)],
    ['lead / hire date', show(item.lead.date), item.candidates.map((c) => `${mark(c.compared.hire_date_agrees)} ${hire(c)}`)],
    ['park', show(item.lead.park), item.candidates.map((c) => `  ${show(c.driver.park)}`)],
    ['evidence', '', item.candidates.map((c) => `  ${levels(c.evidence)}`)],
    ['person', '', item.candidates.map((c) => `  ${c.person_key ?? 'none yet (accept creates it)'}`)],
  ];
  const out = rows.map(([label, lead, cells]) =>
    [label.padEnd(17), clip(lead, width).padEnd(width), ...cells.map((c) => clip(c, width + 8).padEnd(width + 8))].join('  ').trimEnd(),
  );
  return [
    `lead ${item.lead_id}: ${item.candidates.length} candidate${item.candidates.length === 1 ? '' : 's'} (${item.queue_reason})`,
    '',
    ...out,
    '',
    '= agrees  ≠ disagrees  ? missing on one side',
    `idgap review accept ${item.lead_id} DRIVER    idgap review reject ${item.lead_id} DRIVER`,
    '',
  ].join('\n');
}
