/**
 * docs/matching-rules.md restated in TypeScript for the generator's truth.csv only: what the
 * matching SHOULD decide for a lead, given the drivers that share its keys.
 * The product's decisions live in SQL (canon.* and ops.process_identity_batch);
 * this model is written from the rules, independently, so that the quality bench
 * compares the engine with the contract rather than with itself.
 */

const PARTICLES = new Set(['DE', 'DEL', 'LA', 'LOS', 'LAS', 'EL', 'Y', 'E']);

/** docs/matching-rules.md §1 name: unaccent, upper-case, every run of non-letters becomes one space. */
export function normName(raw: string): string {
  return raw
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase()
    .replace(/[^A-Z]+/g, ' ')
    .trim();
}

/** Distinct tokens without particles, sorted. */
export function nameTokens(raw: string): string[] {
  const n = normName(raw);
  if (!n) return [];
  return [...new Set(n.split(' ').filter((t) => !PARTICLES.has(t)))].sort();
}

/** (|A∩B|/|A∪B| + |A∩B|/max(|A|,|B|)) / 2; 0 when either is empty. */
export function nameSimilarity(a: string[], b: string[]): number {
  if (!a.length || !b.length) return 0;
  const setB = new Set(b);
  let common = 0;
  for (const t of a) if (setB.has(t)) common += 1;
  return (common / (a.length + b.length - common) + common / Math.max(a.length, b.length)) / 2;
}

export const THRESHOLD = 0.66;
export const MARGIN = 0.15;
export const WINDOW_BEFORE = -90;
export const WINDOW_AFTER = 30;
/* The SQL compares exact numerics; doubles need a hair of tolerance on both comparisons. */
const EPS = 1e-9;

export interface ModelDriver {
  driverId: string;
  /** The person the driver stands for (its own id when unlinked). */
  person: string;
  tokens: string[];
  /** Days since epoch, or null. */
  hireDay: number | null;
}

export interface ModelLead {
  hasPhone: boolean;
  hasPlate: boolean;
  tokens: string[];
  /** Days since epoch, or null when lead_created_at is empty. */
  leadDay: number | null;
}

export type Rule = 'R1_PHONE_EXACT' | 'R3_PLATE_NAME' | 'R3B_PLATE_NAME_ANY_DATE';
export type Reason = 'MISSING_KEYS' | 'NO_CANDIDATES' | 'WEAK_MATCH_ONLY' | 'MULTIPLE_CANDIDATES' | 'INVALID_LEAD_DATE';

export type Expected = { link: true; person: string; rule: Rule } | { link: false; reason: Reason };

type Verdict = { kind: 'named'; person: string; rule: number } | { kind: 'ambiguous'; persons: Set<string> } | { kind: 'weak' };

function plateVerdict(lead: ModelLead, candidates: ModelDriver[], rule: number): Verdict {
  let best = -1;
  let bestPerson = '';
  for (const d of candidates) {
    const s = nameSimilarity(lead.tokens, d.tokens);
    if (s > best || (s === best && d.person < bestPerson)) {
      best = s;
      bestPerson = d.person;
    }
  }
  if (best < THRESHOLD - EPS) return { kind: 'weak' };
  let other = -1;
  for (const d of candidates) if (d.person !== bestPerson) other = Math.max(other, nameSimilarity(lead.tokens, d.tokens));
  if (other >= 0 && best - other <= MARGIN + EPS) return { kind: 'ambiguous', persons: new Set(candidates.map((d) => d.person)) };
  return { kind: 'named', person: bestPerson, rule };
}

/** docs/matching-rules.md §2-3 with no target park: the decision for one lead. */
export function expectedOutcome(lead: ModelLead, phoneDrivers: ModelDriver[], plateDrivers: ModelDriver[]): Expected {
  if (!lead.hasPhone && !lead.hasPlate) return { link: false, reason: 'MISSING_KEYS' };
  const verdicts: Verdict[] = [];
  if (lead.hasPhone && phoneDrivers.length) {
    const persons = new Set(phoneDrivers.map((d) => d.person));
    verdicts.push(persons.size === 1 ? { kind: 'named', person: [...persons][0]!, rule: 1 } : { kind: 'ambiguous', persons });
  }
  if (lead.hasPlate && plateDrivers.length) {
    const inWindow =
      lead.leadDay === null
        ? []
        : plateDrivers.filter((d) => d.hireDay === null || (d.hireDay >= lead.leadDay! + WINDOW_BEFORE && d.hireDay <= lead.leadDay! + WINDOW_AFTER));
    verdicts.push(inWindow.length ? plateVerdict(lead, inWindow, 2) : plateVerdict(lead, plateDrivers, 3));
  }
  const named = verdicts.filter((v): v is Extract<Verdict, { kind: 'named' }> => v.kind === 'named');
  const namedPersons = new Set(named.map((v) => v.person));
  const ambiguous = verdicts.filter((v): v is Extract<Verdict, { kind: 'ambiguous' }> => v.kind === 'ambiguous');
  if (namedPersons.size === 1) {
    const person = [...namedPersons][0]!;
    if (ambiguous.every((a) => a.persons.has(person))) {
      const rule = Math.min(...named.map((v) => v.rule));
      return { link: true, person, rule: rule === 1 ? 'R1_PHONE_EXACT' : rule === 2 ? 'R3_PLATE_NAME' : 'R3B_PLATE_NAME_ANY_DATE' };
    }
  }
  if (lead.leadDay === null) return { link: false, reason: 'INVALID_LEAD_DATE' };
  if (namedPersons.size > 0 || ambiguous.length) return { link: false, reason: 'MULTIPLE_CANDIDATES' };
  if (verdicts.some((v) => v.kind === 'weak')) return { link: false, reason: 'WEAK_MATCH_ONLY' };
  return { link: false, reason: 'NO_CANDIDATES' };
}

/*
 * The near keys of issue 16, restated for the generator and its tests only (the engine's R4-R6 live in SQL): what
 * "one edit" means for a plate, a phone and a name token. The generator plants typo leads whose key is exactly one
 * such edit from their true driver's, and traps whose near key belongs to somebody else.
 */

export type NearRule = 'R4_PLATE_NEAR' | 'R5_PHONE_NEAR' | 'R6_NAME_NEAR_PLATE';

/** Characters people confuse on a plate: 0/O, 1/I, 8/B, 5/S, 2/Z, 6/G (both ways). */
export const LOOKALIKES: Readonly<Record<string, string>> = {
  '0': 'O', O: '0', '1': 'I', I: '1', '8': 'B', B: '8', '5': 'S', S: '5', '2': 'Z', Z: '2', '6': 'G', G: '6',
};

export type KeyEdit = 'substitution' | 'lookalike' | 'transposition';

/**
 * The one edit that turns key a into key b (normalised plates or phones): one character substituted (a look-alike
 * when the two characters are a pair of LOOKALIKES) or two adjacent characters swapped; null when a = b or they are
 * further apart.
 */
export function keyEdit(a: string, b: string): KeyEdit | null {
  if (a.length !== b.length || a === b) return null;
  const diff: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
  if (diff.length === 1) return LOOKALIKES[a[diff[0]!]!] === b[diff[0]!] ? 'lookalike' : 'substitution';
  if (diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!]) return 'transposition';
  return null;
}

/** Name tokens within one edit: equal, or one substitution, insertion, deletion or adjacent transposition apart. */
export function tokensWithinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length === b.length) return keyEdit(a, b) !== null;
  if (Math.abs(a.length - b.length) !== 1) return false;
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  let i = 0;
  while (i < short.length && short[i] === long[i]) i++;
  return short.slice(i) === long.slice(i + 1);
}

/**
 * canon.name_similarity's formula with tokens matched one to one allowing one edit per token (exact pairs first):
 * what R6_NAME_NEAR_PLATE compares. Used to check that a misspelt name still agrees and a trap's name really differs.
 */
export function fuzzyNameSimilarity(a: string[], b: string[]): number {
  if (!a.length || !b.length) return 0;
  const left = [...a];
  const right = [...b];
  let common = 0;
  for (let i = left.length - 1; i >= 0; i--) {
    const j = right.indexOf(left[i]!);
    if (j >= 0) {
      common += 1;
      left.splice(i, 1);
      right.splice(j, 1);
    }
  }
  for (const t of left) {
    const j = right.findIndex((u) => tokensWithinOneEdit(t, u));
    if (j >= 0) {
      common += 1;
      right.splice(j, 1);
    }
  }
  return (common / (a.length + b.length - common) + common / Math.max(a.length, b.length)) / 2;
}

/** Below this fuzzy similarity a trap's name "disagrees": far under the link threshold even with one edit per token. */
export const DISAGREE = 0.4;
