import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Faker, base, es } from '@faker-js/faker';
import {
  DISAGREE, expectedOutcome, fuzzyNameSimilarity, LOOKALIKES, nameSimilarity, nameTokens, THRESHOLD,
  type Expected, type KeyEdit, type ModelDriver, type ModelLead, type NearRule,
} from './rules.js';

/**
 * Synthetic CSVs for docs/synthetic-data.md, deterministic for a seed and streamed to disk with
 * bounded memory: leads.csv, drivers.csv, activity.csv, truth.csv, plus
 * links.csv / origins.csv (planted links without origin and an origin pointing
 * to the wrong lead, loaded after import by loadPlantedLinks).
 *
 * Keys never collide by accident: every driver gets a phone and a plate from
 * its own counter through a bijection (disjoint spaces per plate pattern), and
 * leads without a true driver take phones (8xxxxxxxx) and plates (AB-1234)
 * from spaces no driver uses. The only shared keys are the planted ones, so
 * truth.csv can be computed exactly by the model of docs/matching-rules.md in rules.ts.
 */

export const PLANTED_CASES = [
  'unique_phone',
  'plate_name',
  'plate_reordered_name',
  'phone_other_park',
  'hire_out_of_window',
  'no_lead_date',
  'two_leads_one_person',
  'shared_phone',
  'plate_weak_name',
  'two_drivers_one_plate',
  'rules_disagree',
  'link_without_origin',
  'origin_wrong_lead',
  'missing_keys',
  'no_true_driver',
  'window_hides_older_driver',
  'no_lead_date_weak_name',
  // Typing errors (issue 16): the lead's truth is its true driver, which only the near-key rules can find.
  'typo_plate_substitution',
  'typo_plate_lookalike',
  'typo_plate_transposition',
  'typo_phone_digit',
  'typo_phone_swap',
  'typo_name_plate_exact',
  // Near-key traps: a near key that must not link, or must not be confused with the true driver.
  'trap_near_plate_other_name',
  'trap_near_phone_other_name',
  'trap_namesakes_near_plate',
  'trap_namesakes_near_phone',
  'trap_exact_beats_near',
  'trap_near_breaks_no_tie',
] as const;
export type PlantedCase = (typeof PLANTED_CASES)[number];
/** The typo cases (named typo_*) and the near-key traps (named trap_*), which bench/quality sums up. */
export const TYPO_CASES = PLANTED_CASES.filter((c) => c.startsWith('typo_'));
export const TRAP_CASES = PLANTED_CASES.filter((c) => c.startsWith('trap_'));

/** Share of leads per case (unique_phone takes the rest). Most leads are ordinary, so precision and recall mean something. */
const WEIGHTS: Array<[PlantedCase, number]> = [
  ['plate_name', 0.33],
  ['plate_reordered_name', 0.04],
  ['phone_other_park', 0.02],
  ['hire_out_of_window', 0.03],
  ['no_lead_date', 0.01],
  ['two_leads_one_person', 0.02],
  ['shared_phone', 0.01],
  ['plate_weak_name', 0.01],
  ['two_drivers_one_plate', 0.01],
  ['rules_disagree', 0.01],
  ['link_without_origin', 0.01],
  ['origin_wrong_lead', 0.005],
  ['missing_keys', 0.02],
  ['no_true_driver', 0.035],
  ['window_hides_older_driver', 0.005],
  ['no_lead_date_weak_name', 0.005],
  /* 0.5 % each: about 500 leads per typo case and per trap at 100k. */
  ['typo_plate_substitution', 0.005],
  ['typo_plate_lookalike', 0.005],
  ['typo_plate_transposition', 0.005],
  ['typo_phone_digit', 0.005],
  ['typo_phone_swap', 0.005],
  ['typo_name_plate_exact', 0.005],
  ['trap_near_plate_other_name', 0.005],
  ['trap_near_phone_other_name', 0.005],
  ['trap_namesakes_near_plate', 0.005],
  ['trap_namesakes_near_phone', 0.005],
  ['trap_exact_beats_near', 0.005],
  ['trap_near_breaks_no_tie', 0.005],
];

/** Drivers a case creates besides background drivers. */
const DRIVERS_NEEDED: Record<PlantedCase, number> = {
  unique_phone: 1, plate_name: 1, plate_reordered_name: 1, phone_other_park: 1, hire_out_of_window: 1, no_lead_date: 1,
  two_leads_one_person: 1, shared_phone: 2, plate_weak_name: 1, two_drivers_one_plate: 2, rules_disagree: 2,
  link_without_origin: 1, origin_wrong_lead: 1, missing_keys: 1, no_true_driver: 0, window_hides_older_driver: 2,
  no_lead_date_weak_name: 1, typo_plate_substitution: 1, typo_plate_lookalike: 1, typo_plate_transposition: 1,
  typo_phone_digit: 1, typo_phone_swap: 1, typo_name_plate_exact: 1, trap_near_plate_other_name: 1,
  trap_near_phone_other_name: 1, trap_namesakes_near_plate: 2, trap_namesakes_near_phone: 2, trap_exact_beats_near: 2,
  trap_near_breaks_no_tie: 2,
};

export interface GenerateOptions {
  leads: number;
  drivers: number;
  seed: number;
  out: string;
}

export interface GenerateResult {
  out: string;
  files: { leads: string; drivers: string; activity: string; truth: string; links: string; origins: string };
  counts: { leads: number; drivers: number; activity: number; links: number; origins: number; recoverable: number; by_case: Record<string, number> };
  duration_ms: number;
}

/** sfc32 seeded through splitmix32: fast, and the same sequence on every platform. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
}

/**
 * Buffered synchronous writer into an off-heap Buffer: rows become garbage at
 * once instead of piling up in the JS heap (where they were promoted to the old
 * generation and GC took half the run time).
 */
class Out {
  private fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private offset = 0;
  rows = 0;
  constructor(file: string, header: string) {
    this.fd = openSync(file, 'w');
    this.write(`${header}\n`);
    this.rows = 0;
  }
  write(line: string): void {
    if (this.offset + line.length * 3 > this.buf.length) {
      this.flush();
      if (line.length * 3 > this.buf.length) this.buf = Buffer.allocUnsafe(line.length * 3);
    }
    this.offset += this.buf.write(line, this.offset, 'utf8');
    this.rows += 1;
  }
  flush(): void {
    let done = 0;
    while (done < this.offset) done += writeSync(this.fd, this.buf, done, this.offset - done);
    this.offset = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

const csv = (v: string | number | null | undefined): string => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const DAY_MS = 86_400_000;
/** Lead dates fall in the year before this day (fixed, so the files do not depend on when they are generated). */
const ANCHOR_DAY = Math.floor(Date.UTC(2026, 9, 31) / DAY_MS);
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const PARKS = ['park-01', 'park-02', 'park-03', 'park-04', 'park-05', 'park-06', 'park-07', 'park-08'];
const CITIES = ['Lima', 'Arequipa', 'Trujillo', 'Chiclayo', 'Piura', 'Cusco'];
const MODELS = ['Toyota Yaris', 'Kia Rio', 'Hyundai Accent', 'Chevrolet Sail', 'Nissan Versa', 'Suzuki Swift'];
const COLORS = ['blanco', 'negro', 'gris', 'rojo', 'azul', 'plata'];
const STATUSES = ['new', 'contacted', 'active', 'rejected'];
const PARTICLE_SURNAMES = ['de la Cruz', 'del Castillo', 'de los Santos', 'de la Torre', 'del Río', 'de la Fuente'];
const GARBAGE_DATES = ['31-02-2026', 'N/A', '2026/13/45', 'ayer', '00-00-0000', '2026-02-30', '15/08/2026'];

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const isoDays = new Map<number, string>();
const dayToIso = (day: number) => {
  let v = isoDays.get(day);
  if (v === undefined) isoDays.set(day, (v = new Date(day * DAY_MS).toISOString().slice(0, 10)));
  return v;
};
const dayToDmy = (day: number) => {
  const iso = dayToIso(day);
  return `${iso.slice(8, 10)}-${iso.slice(5, 7)}-${iso.slice(0, 4)}`;
};
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** An affine bijection of [0, m): distinct counters give distinct values. `a` must be coprime with m. */
const permute = (x: number, a: number, b: number, m: number) => (((x % m) * a + b) % m + m) % m;

interface Person {
  given: string[];
  surnames: string[];
}

interface DriverRec extends ModelDriver {
  phone: string; // national 9 digits
  plate: string; // normalised
  plateStyle: 1 | 2;
  park: string;
  name: Person;
}

/* Names repeat (a pool of ~1,100 words): memoising word-level work keeps the hot loop allocation-light. */
function memo(fn: (s: string) => string): (s: string) => string {
  const cache = new Map<string, string>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined) {
      v = fn(s);
      if (cache.size < 100_000) cache.set(s, v);
    }
    return v;
  };
}
const wordwise = (fn: (w: string) => string) => {
  const m = memo(fn);
  return (s: string) => (s.includes(' ') ? s.split(' ').map(m).join(' ') : m(s));
};
const titleCase = wordwise((w) => w.replace(/(^|-)(\p{L})/gu, (_m, sep: string, ch: string) => sep + ch.toUpperCase()));
const stripAccents = wordwise((w) => w.normalize('NFD').replace(/[\u0300-\u036f]/g, '').normalize('NFC'));
const wordTokens = new Map<string, string[]>();
/** nameTokens(s), computed word by word (a space separates tokens in both) with a cache. */
function fastTokens(s: string): string[] {
  const out: string[] = [];
  for (const w of s.split(' ')) {
    if (!w) continue;
    let t = wordTokens.get(w);
    if (t === undefined) {
      t = nameTokens(w);
      if (wordTokens.size < 200_000) wordTokens.set(w, t);
    }
    for (const x of t) if (!out.includes(x)) out.push(x);
  }
  return out.sort();
}

export async function generate(opts: GenerateOptions): Promise<GenerateResult> {
  const started = Date.now();
  if (!Number.isInteger(opts.leads) || opts.leads < 0) throw new Error('--leads must be a whole number >= 0');
  if (!Number.isInteger(opts.drivers) || opts.drivers < 0) throw new Error('--drivers must be a whole number >= 0');
  const seed = opts.seed >>> 0;
  mkdirSync(opts.out, { recursive: true });
  const file = (name: string) => path.join(opts.out, name);

  /* Faker (Spanish locale, seeded) chooses and orders the name pools; the hot loop uses a fast seeded PRNG. */
  const faker = new Faker({ locale: [es, base] });
  faker.seed(seed);
  const clean = (names: readonly string[]) => [...new Set(names.filter((n) => /^[\p{L}' ]+$/u.test(n) && nameTokens(n).length > 0))];
  const personDefs = es.person!;
  const firstNames = personDefs.first_name as unknown as { male: string[]; female: string[] };
  const givenPool = faker.helpers.shuffle(clean([...firstNames.male, ...firstNames.female])).slice(0, 400);
  const lastNames = personDefs.last_name as unknown as { generic: string[] };
  const surnamePool = [...faker.helpers.shuffle(clean(lastNames.generic)).slice(0, 700), ...PARTICLE_SURNAMES];

  const rnd = prng(seed ^ 0x5eed1d);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(arr: readonly T[]): T => arr[int(arr.length)]!;
  const chance = (p: number) => rnd() < p;

  const files = {
    leads: file('leads.csv'),
    drivers: file('drivers.csv'),
    activity: file('activity.csv'),
    truth: file('truth.csv'),
    links: file('links.csv'),
    origins: file('origins.csv'),
  };
  const leadsOut = new Out(files.leads, 'external_id,lead_created_at,park_phone,first_name,middle_name,last_name,asset_plate_number,asset_model,asset_color,activation_city,target_city,park_name,status');
  const driversOut = new Out(files.drivers, 'driver_id,park_id,phone,license_number,license_normalized_number,car_number,car_normalized_number,full_name,first_name,middle_name,last_name,hire_date,car_brand,car_model');
  const activityOut = new Out(files.activity, 'driver_id,date_file,count_orders_completed');
  const truthOut = new Out(files.truth, 'lead_id,driver_id,planted_case,recoverable,expected_rule,expected_reason');
  const linksOut = new Out(files.links, 'person_key,source_table,source_pk,match_rule');
  const originsOut = new Out(files.origins, 'person_key,origin_tag,origin_source_id');

  const seedMix = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  let driverCount = 0;
  let phoneCount = 0;
  let plate1Count = 0;
  let plate2Count = 0;
  let freePhoneCount = 0;
  let freePlateCount = 0;
  let leadCount = 0;
  let recoverable = 0;
  let lastLeadId = '';
  const byCase: Record<string, number> = {};

  const newPerson = (givenNames = 1 + (chance(0.5) ? 1 : 0)): Person => {
    const given = [pick(givenPool)];
    if (givenNames > 1) given.push(pick(givenPool));
    return { given, surnames: [pick(surnamePool), pick(surnamePool)] };
  };
  const fullTokens = (p: Person) => fastTokens([...p.given, ...p.surnames].join(' '));

  const nationalPhone = () => `9${pad(permute(phoneCount++, 48271, seedMix % 100_000_000, 100_000_000), 8)}`;
  const freePhone = () => `8${pad(permute(freePhoneCount++, 69621, seedMix % 100_000_000, 100_000_000), 8)}`;
  const plateP1 = () => {
    const k = permute(plate1Count++, 48271, seedMix % 17_576_000, 17_576_000);
    const l = Math.floor(k / 1000);
    return `${LETTERS[Math.floor(l / 676)]}${LETTERS[Math.floor(l / 26) % 26]}${LETTERS[l % 26]}${pad(k % 1000, 3)}`;
  };
  const plateP2 = () => {
    const k = permute(plate2Count++, 48271, seedMix % 6_760_000, 6_760_000);
    const a = Math.floor(k / 260_000), d1 = Math.floor(k / 26_000) % 10, b = Math.floor(k / 1000) % 26;
    return `${LETTERS[a]}${d1}${LETTERS[b]}${pad(k % 1000, 3)}`;
  };
  const freePlate = () => {
    const k = permute(freePlateCount++, 48271, seedMix % 6_760_000, 6_760_000);
    return `${LETTERS[Math.floor(k / 260_000)]}${LETTERS[Math.floor(k / 10_000) % 26]}-${pad(k % 10_000, 4)}`;
  };

  /** The plate as someone typed it: ABC-123, abc 123, ABC123; A1B234 or a1b-234. */
  const showPlate = (norm: string, style: 1 | 2 | 3): string => {
    if (style === 3) return norm;
    const head = norm.slice(0, 3), tail = norm.slice(3);
    const r = int(4);
    const s = r === 0 ? `${head}-${tail}` : r === 1 ? `${head} ${tail}` : r === 2 ? norm : `${head}-${tail}`;
    return chance(0.25) ? s.toLowerCase() : s;
  };
  /** Every phone format of docs/matching-rules.md §1. */
  const showPhone = (n: string, driver: boolean): string => {
    if (driver && chance(0.7)) return `51${n}`;
    switch (int(5)) {
      case 0: return `+51 ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
      case 1: return `51${n}`;
      case 2: return `${n.slice(0, 3)}-${n.slice(3, 6)}-${n.slice(6)}`;
      case 3: return `(0051) ${n}`;
      default: return n;
    }
  };
  const upperName = (s: string) => (chance(0.3) ? stripAccents(s) : s).toUpperCase();

  const emitDriver = (d: DriverRec, hireIso: string | null, phoneShown: string | null, plateShown: string) => {
    const id = d.driverId;
    const license = `Q${pad(permute(Number(id.slice(1)), 7919, seedMix % 100_000_000, 100_000_000), 8)}`;
    const useFull = chance(0.85);
    const full = useFull ? upperName([...d.name.surnames, ...d.name.given].join(' ')) : '';
    const first = useFull ? '' : titleCase(d.name.given[0]!);
    const middle = useFull ? '' : d.name.given.slice(1).map(titleCase).join(' ');
    const last = useFull ? '' : titleCase(d.name.surnames.join(' '));
    const model = pick(MODELS);
    driversOut.write(
      `${id},${d.park},${csv(phoneShown)},${license},${license},${csv(plateShown)},${chance(0.5) ? d.plate : ''},${csv(full)},${csv(first)},${csv(middle)},${csv(last)},${hireIso ?? ''},${model.split(' ')[0]},${model.split(' ')[1]}\n`,
    );
    // Activity: some days around the hire date, now and then a garbage date_file.
    if (chance(0.6) || activityOut.rows === 0) {
      const baseDay = d.hireDay ?? ANCHOR_DAY - 30;
      const days = 1 + int(3);
      for (let k = 0; k < days; k++) {
        const day = baseDay + k * 3 + int(3);
        const shown = activityOut.rows === 0 || chance(0.02) ? `${GARBAGE_DATES[int(GARBAGE_DATES.length)]}` : chance(0.85) ? dayToDmy(day) : dayToIso(day);
        activityOut.write(`${id},${csv(shown)},${int(26)}\n`);
        if (GARBAGE_DATES.includes(shown)) break; // never the same garbage twice for one driver
      }
    }
  };

  const makeDriver = (opts2: { hireDay: number | null; person?: Person; park?: string; phone?: string; plate?: { norm: string; style: 1 | 2 } }): DriverRec => {
    driverCount += 1;
    const driverId = `D${pad(driverCount, 8)}`;
    const style: 1 | 2 = opts2.plate ? opts2.plate.style : chance(0.75) ? 1 : 2;
    const plate = opts2.plate ? opts2.plate.norm : style === 1 ? plateP1() : plateP2();
    const name = opts2.person ?? newPerson();
    return { driverId, person: driverId, tokens: fullTokens(name), hireDay: opts2.hireDay, phone: opts2.phone ?? nationalPhone(), plate, plateStyle: style, park: opts2.park ?? pick(PARKS), name };
  };
  /* A driver some lead finds by phone always shows it; background drivers sometimes have none. */
  const writeDriver = (d: DriverRec, phoneMayBeMissing = false) =>
    emitDriver(d, d.hireDay === null ? null : dayToIso(d.hireDay), phoneMayBeMissing && chance(0.04) ? null : showPhone(d.phone, true), showPlate(d.plate, d.plateStyle));

  const hireInWindow = (leadDay: number) => (chance(0.1) ? null : leadDay - 85 + int(110));
  const hireOutOfWindow = (leadDay: number) => (chance(0.7) ? leadDay - 120 - int(800) : leadDay + 40 + int(150));
  const hireAny = (leadDay: number) => (chance(0.1) ? null : leadDay - 900 + int(930));

  /** A lead name close to the driver's (similarity >= the threshold), in one of the ways people type it. */
  const closeName = (p: Person, reorder: boolean): { first: string; middle: string; last: string } => {
    const variant = int(3);
    let first = p.given[0]!, middle = p.given[1] ?? '', last = p.surnames.join(' ');
    if (variant === 1) middle = '';
    if (variant === 2 && p.given.length === 1) last = p.surnames[0]!;
    if (reorder) [first, middle, last] = [p.surnames.join(' '), '', p.given.join(' ')];
    const style = (s: string) => {
      const x = chance(0.3) ? stripAccents(s) : s;
      const r = int(3);
      return r === 0 ? titleCase(x.toLowerCase()) : r === 1 ? x.toLowerCase() : x.toUpperCase();
    };
    return { first: style(first), middle: style(middle), last: style(last) };
  };
  /* Disagreeing even with one edit per token (DISAGREE), so that the near-key rules cannot turn it into a link either. */
  const otherName = (p: Person): { first: string; middle: string; last: string } => {
    for (;;) {
      const q = newPerson(1);
      if (fuzzyNameSimilarity(fullTokens(q), fullTokens(p)) < DISAGREE) return { first: q.given[0]!, middle: '', last: q.surnames.join(' ') };
    }
  };
  const fullName = (p: Person) => ({ first: p.given.join(' '), middle: '', last: p.surnames.join(' ') });

  /*
   * Near keys (issue 16). A typo lead's key is one edit from its driver's and must equal no driver's key, or the
   * truth would not be exact. Driver keys come from counters through bijections, so a key is (or will be) a
   * driver's exactly when its preimage is below the number of drivers (no counter passes it: one draw per driver at
   * most), or when a trap gave it to a driver by hand (driverKeys). Keys given to drivers by hand also avoid every
   * typo key already given to a lead (leadKeys).
   */
  const modInverse = (a: number, m: number): bigint => {
    let [r0, r1, s0, s1] = [BigInt(m), BigInt(a), 0n, 1n];
    while (r1 !== 0n) {
      const q = r0 / r1;
      [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
    }
    return ((s0 % BigInt(m)) + BigInt(m)) % BigInt(m);
  };
  const unpermuter = (a: number, b: number, m: number) => {
    const ainv = modInverse(a, m), mm = BigInt(m), bb = BigInt(b);
    return (k: number) => Number((((BigInt(k) - bb) % mm + mm) % mm * ainv) % mm);
  };
  const phoneIndex = unpermuter(48271, seedMix % 100_000_000, 100_000_000);
  const plate1Index = unpermuter(48271, seedMix % 17_576_000, 17_576_000);
  const plate2Index = unpermuter(48271, seedMix % 6_760_000, 6_760_000);
  const letter = (c: string) => LETTERS.indexOf(c);
  const driverKeys = { plate: new Set<string>(), phone: new Set<string>() };
  const leadKeys = { plate: new Set<string>(), phone: new Set<string>() };
  const driverHas = {
    plate: (p: string): boolean => {
      if (/^[A-Z]{3}\d{3}$/.test(p)) {
        if (plate1Index((letter(p[0]!) * 676 + letter(p[1]!) * 26 + letter(p[2]!)) * 1000 + Number(p.slice(3))) < opts.drivers) return true;
      } else if (/^[A-Z]\d[A-Z]\d{3}$/.test(p)) {
        if (plate2Index(letter(p[0]!) * 260_000 + Number(p[1]) * 26_000 + letter(p[2]!) * 1000 + Number(p.slice(3))) < opts.drivers) return true;
      }
      return driverKeys.plate.has(p);
    },
    phone: (p: string): boolean => (/^9\d{8}$/.test(p) && phoneIndex(Number(p.slice(1))) < opts.drivers) || driverKeys.phone.has(p),
  };
  const otherOfClass = (c: string) => {
    const pool = c >= '0' && c <= '9' ? '0123456789' : LETTERS;
    for (;;) {
      const x = pool[int(pool.length)]!;
      if (x !== c) return x;
    }
  };
  /** Every key one edit of `kind` from `key`, editing from position `from` on (a phone keeps its leading 9). */
  const variants = (what: 'plate' | 'phone', key: string, kind: KeyEdit): string[] => {
    const out: string[] = [];
    for (let i = what === 'phone' ? 1 : 0; i < key.length; i++) {
      const c = key[i]!;
      if (kind === 'transposition') {
        if (i + 1 < key.length && c !== key[i + 1]) out.push(key.slice(0, i) + key[i + 1]! + c + key.slice(i + 2));
      } else if (kind === 'lookalike') {
        if (LOOKALIKES[c]) out.push(key.slice(0, i) + LOOKALIKES[c] + key.slice(i + 1));
      } else {
        for (const x of c >= '0' && c <= '9' ? '0123456789' : LETTERS) if (x !== c) out.push(key.slice(0, i) + x + key.slice(i + 1));
      }
    }
    return out;
  };
  const noDriverHas = (what: 'plate' | 'phone') => (k: string) => !driverHas[what](k);
  const hasFree = (what: 'plate' | 'phone', key: string, kind: KeyEdit) => variants(what, key, kind).some(noDriverHas(what));
  const nearKey = (what: 'plate' | 'phone', key: string, kind: KeyEdit, free: (k: string) => boolean): string => {
    const all = variants(what, key, kind);
    for (let tries = 0; tries < 8 && all.length; tries++) {
      const k = pick(all);
      if (free(k)) return k;
    }
    const options = all.filter(free); // rarely needed: most variants are free
    if (!options.length) throw new Error(`generate: found no ${what} one ${kind} from ${key} that no driver has`);
    return pick(options);
  };
  /** A typo of a driver's key, given to a lead: no driver has it. */
  const leadNearKey = (what: 'plate' | 'phone', key: string, kind: KeyEdit): string => {
    const k = nearKey(what, key, kind, noDriverHas(what));
    leadKeys[what].add(k);
    return k;
  };
  /** A key one edit from `key`, given to a trap's driver by hand: no other driver has it, nor any lead as a typo. */
  const driverNearKey = (what: 'plate' | 'phone', key: string, kind: KeyEdit, also: (k: string) => boolean = () => true): string => {
    const k = nearKey(what, key, kind, (x) => !driverHas[what](x) && !leadKeys[what].has(x) && also(x));
    driverKeys[what].add(k);
    return k;
  };
  /**
   * The driver (not yet written) keeps its key when a typo of `kind` that no driver has exists; otherwise (a plate
   * without look-alike characters, or whose every look-alike is another driver's plate) it gets a key by hand that has one.
   */
  const typoable = (what: 'plate' | 'phone', d: DriverRec, kind: KeyEdit) => {
    if (!hasFree(what, d[what], kind)) d[what] = driverNearKey(what, d[what], 'substitution', (k) => hasFree(what, k, kind));
  };
  const anyPlateEdit = (plate: string): KeyEdit => pick((['substitution', 'lookalike', 'transposition'] as const).filter((kind) => hasFree('plate', plate, kind)));
  /** The token misspelt by one substitution, insertion, deletion or adjacent transposition; still one name token. */
  const misspell = (token: string): string => {
    for (;;) {
      const i = int(token.length);
      const r = int(4);
      const t =
        r === 0 ? token.slice(0, i) + otherOfClass(token[i]!) + token.slice(i + 1)
        : r === 1 ? token.slice(0, i) + LETTERS[int(26)]! + token.slice(i)
        : r === 2 ? token.slice(0, i) + token.slice(i + 1)
        : i + 1 < token.length ? token.slice(0, i) + token[i + 1]! + token[i]! + token.slice(i + 2) : token;
      if (t !== token && t.length >= 3 && nameTokens(t).join(' ') === t) return t;
    }
  };
  const styleName = (s: string) => {
    const r = int(3);
    return r === 0 ? titleCase(s.toLowerCase()) : r === 1 ? s.toLowerCase() : s;
  };

  interface LeadRec {
    id: string;
    day: number | null;
    time: number;
    phone: string | null; // shown
    hasPhone: boolean;
    plate: string | null; // shown
    hasPlate: boolean;
    name: { first: string; middle: string; last: string };
    park: string;
  }
  const newLeadId = () => {
    leadCount += 1;
    return `${hex8(Math.imul(leadCount, 0x9e3779b1) ^ seedMix)}${hex8(seedMix + leadCount * 7)}${leadCount.toString(16).padStart(16, '0')}`;
  };
  const leadDay = () => ANCHOR_DAY - int(365);
  const noPhone = () => (chance(0.85) ? '' : pick(['000000000', '12345', 'sin celular', '0']));
  const writeLead = (l: LeadRec) => {
    const created = l.day === null ? '' : `${dayToIso(l.day)} ${pad(Math.floor(l.time / 3600), 2)}:${pad(Math.floor(l.time / 60) % 60, 2)}:${pad(l.time % 60, 2)}`;
    const model = pick(MODELS);
    const city = pick(CITIES);
    leadsOut.write(
      `${l.id},${created},${csv(l.phone)},${csv(l.name.first)},${csv(l.name.middle)},${csv(l.name.last)},${csv(l.plate)},${model},${pick(COLORS)},${city},${city},${l.park},${pick(STATUSES)}\n`,
    );
    lastLeadId = l.id;
  };
  const modelLead = (l: LeadRec): ModelLead => ({
    hasPhone: l.hasPhone,
    hasPlate: l.hasPlate,
    tokens: fastTokens(`${l.name.first} ${l.name.middle} ${l.name.last}`),
    leadDay: l.day,
  });
  const writeTruth = (l: LeadRec, trueDriver: string | null, planted: PlantedCase, e: Expected | 'ORIGIN_REPAIR') => {
    if (e === 'ORIGIN_REPAIR') {
      recoverable += 1;
      truthOut.write(`${l.id},${trueDriver ?? ''},${planted},true,ORIGIN_REPAIR,\n`);
    } else if (e.link) {
      /* Recoverable only when the rules name the true driver; a link to anyone else would be wrong. */
      const right = trueDriver !== null && e.person === trueDriver;
      if (right) recoverable += 1;
      truthOut.write(`${l.id},${trueDriver ?? ''},${planted},${right},${right ? e.rule : ''},${right ? '' : 'WRONG_PERSON_WOULD_LINK'}\n`);
    } else {
      truthOut.write(`${l.id},${trueDriver ?? ''},${planted},false,,${e.reason}\n`);
    }
    byCase[planted] = (byCase[planted] ?? 0) + 1;
  };
  /** A typo lead: recoverable, its truth the true driver, found only by the near-key rule that reads its edited key. */
  const writeNearTruth = (l: LeadRec, trueDriver: string, planted: PlantedCase, rule: NearRule) => {
    recoverable += 1;
    truthOut.write(`${l.id},${trueDriver},${planted},true,${rule},\n`);
    byCase[planted] = (byCase[planted] ?? 0) + 1;
  };
  /** A name close to the driver's (at or above the threshold), as plate_name plants it. */
  const agreeingName = (l: LeadRec, d: DriverRec, reorder = false) => {
    l.name = closeName(d.name, reorder);
    if (nameSimilarity(modelLead(l).tokens, d.tokens) < THRESHOLD) l.name = fullName(d.name);
  };
  const personKey = () => {
    const h = [hex8(rnd() * 2 ** 32), hex8(rnd() * 2 ** 32), hex8(rnd() * 2 ** 32), hex8(rnd() * 2 ** 32)].join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };

  const baseLead = (day: number | null): LeadRec => ({
    id: newLeadId(), day, time: int(86_400), phone: null, hasPhone: false, plate: null, hasPlate: false,
    name: { first: '', middle: '', last: '' }, park: pick(PARKS),
  });
  const withPhone = (l: LeadRec, national: string) => {
    l.phone = showPhone(national, false);
    l.hasPhone = true;
  };
  const withoutPhone = (l: LeadRec) => {
    l.phone = noPhone();
    l.hasPhone = false;
  };
  const withPlate = (l: LeadRec, norm: string, style: 1 | 2 | 3) => {
    l.plate = showPlate(norm, style);
    l.hasPlate = true;
  };

  const chooseCase = (i: number): PlantedCase => {
    if (i < PLANTED_CASES.length) return PLANTED_CASES[i]!; // every case at least once, whatever the size
    let r = rnd();
    for (const [c, w] of WEIGHTS) {
      if (r < w) return c;
      r -= w;
    }
    return 'unique_phone';
  };

  while (leadCount < opts.leads) {
    let planted = chooseCase(leadCount);
    if (planted === 'two_leads_one_person' && leadCount + 2 > opts.leads) planted = 'unique_phone';
    if (planted === 'origin_wrong_lead' && leadCount === 0) planted = 'unique_phone';
    if (driverCount + DRIVERS_NEEDED[planted] > opts.drivers) planted = 'no_true_driver';
    const day = leadDay();
    switch (planted) {
      case 'unique_phone':
      case 'phone_other_park': {
        const d = makeDriver({ hireDay: hireAny(day) });
        writeDriver(d);
        const l = baseLead(day);
        withPhone(l, d.phone);
        l.name = chance(0.7) ? closeName(d.name, false) : otherName(d.name);
        if (chance(0.4)) withPlate(l, d.plate, d.plateStyle);
        l.park = planted === 'phone_other_park' ? PARKS[(PARKS.indexOf(d.park) + 1 + int(PARKS.length - 1)) % PARKS.length]! : chance(0.7) ? d.park : pick(PARKS);
        writeLead(l);
        writeTruth(l, d.driverId, planted, expectedOutcome(modelLead(l), [d], l.hasPlate ? [d] : []));
        break;
      }
      case 'plate_name':
      case 'plate_reordered_name':
      case 'hire_out_of_window': {
        const d = makeDriver({ hireDay: planted === 'hire_out_of_window' ? hireOutOfWindow(day) : hireInWindow(day) });
        writeDriver(d);
        const l = baseLead(day);
        withoutPhone(l);
        withPlate(l, d.plate, d.plateStyle);
        l.name = closeName(d.name, planted === 'plate_reordered_name');
        if (nameSimilarity(modelLead(l).tokens, d.tokens) < THRESHOLD) l.name = { first: d.name.given.join(' '), middle: '', last: d.name.surnames.join(' ') };
        l.park = d.park;
        writeLead(l);
        writeTruth(l, d.driverId, planted, expectedOutcome(modelLead(l), [], [d]));
        break;
      }
      case 'no_lead_date': {
        const d = makeDriver({ hireDay: hireAny(day) });
        writeDriver(d);
        const l = baseLead(null);
        if (chance(0.5)) withPhone(l, d.phone);
        else {
          withoutPhone(l);
          withPlate(l, d.plate, d.plateStyle);
        }
        l.name = { first: d.name.given.join(' '), middle: '', last: d.name.surnames.join(' ') };
        writeLead(l);
        writeTruth(l, d.driverId, planted, expectedOutcome(modelLead(l), l.hasPhone ? [d] : [], l.hasPlate ? [d] : []));
        break;
      }
      case 'two_leads_one_person': {
        const d = makeDriver({ hireDay: day - 10 - int(40) });
        writeDriver(d);
        const first = baseLead(day);
        withPhone(first, d.phone);
        first.name = closeName(d.name, false);
        writeLead(first);
        writeTruth(first, d.driverId, planted, expectedOutcome(modelLead(first), [d], []));
        const second = baseLead(Math.min(day + 5 + int(40), ANCHOR_DAY));
        if (chance(0.5)) withPhone(second, d.phone);
        else {
          withoutPhone(second);
          withPlate(second, d.plate, d.plateStyle);
        }
        second.name = { first: d.name.given.join(' '), middle: '', last: d.name.surnames.join(' ') };
        writeLead(second);
        writeTruth(second, d.driverId, planted, expectedOutcome(modelLead(second), second.hasPhone ? [d] : [], second.hasPlate ? [d] : []));
        break;
      }
      case 'shared_phone': {
        const a = makeDriver({ hireDay: hireAny(day) });
        const b = makeDriver({ hireDay: hireAny(day), park: a.park, phone: a.phone });
        writeDriver(a);
        writeDriver(b);
        const l = baseLead(day);
        withPhone(l, a.phone);
        l.name = closeName(a.name, false);
        l.park = a.park;
        writeLead(l);
        writeTruth(l, a.driverId, planted, expectedOutcome(modelLead(l), [a, b], []));
        break;
      }
      case 'plate_weak_name': {
        const d = makeDriver({ hireDay: hireInWindow(day) });
        writeDriver(d);
        const l = baseLead(day);
        withoutPhone(l);
        withPlate(l, d.plate, d.plateStyle);
        l.name = otherName(d.name);
        writeLead(l);
        writeTruth(l, d.driverId, planted, expectedOutcome(modelLead(l), [], [d]));
        break;
      }
      case 'two_drivers_one_plate': {
        /* Two relatives on one car: same given name and first surname, different second surname. */
        /* Redrawn until the second surnames differ from every other token: "QUISPE QUISPE" would make B the better match. */
        let pa: Person, pb: Person;
        do {
          pa = { given: [pick(givenPool)], surnames: [pick(surnamePool), pick(surnamePool)] };
          pb = { given: [pa.given[0]!], surnames: [pa.surnames[0]!, pick(surnamePool)] };
        } while (fullTokens(pa).length !== fullTokens(pb).length || nameSimilarity(fullTokens(pa), fullTokens(pb)) === 1 || fullTokens(pb).length < 3);
        const a = makeDriver({ hireDay: day - int(60), person: pa });
        const b = makeDriver({ hireDay: day - int(60), person: pb, plate: { norm: a.plate, style: a.plateStyle } });
        writeDriver(a);
        writeDriver(b);
        const l = baseLead(day);
        withoutPhone(l);
        withPlate(l, a.plate, a.plateStyle);
        l.name = { first: titleCase(pa.given[0]!), middle: '', last: titleCase(pa.surnames[0]!) };
        writeLead(l);
        writeTruth(l, a.driverId, planted, expectedOutcome(modelLead(l), [], [a, b]));
        break;
      }
      case 'rules_disagree': {
        const a = makeDriver({ hireDay: hireAny(day) });
        const b = makeDriver({ hireDay: hireInWindow(day) });
        writeDriver(a);
        writeDriver(b);
        const l = baseLead(day);
        withPhone(l, a.phone);
        withPlate(l, b.plate, b.plateStyle);
        l.name = { first: b.name.given.join(' '), middle: '', last: b.name.surnames.join(' ') };
        writeLead(l);
        writeTruth(l, a.driverId, planted, expectedOutcome(modelLead(l), [a], [b]));
        break;
      }
      case 'link_without_origin':
      case 'origin_wrong_lead': {
        const d = makeDriver({ hireDay: hireAny(day) });
        writeDriver(d);
        const l = baseLead(day);
        withPhone(l, d.phone);
        l.name = closeName(d.name, false);
        const wrongLead = lastLeadId;
        writeLead(l);
        const key = personKey();
        linksOut.write(`${key},drivers,${d.driverId},MANUAL\n`);
        linksOut.write(`${key},module_ct_cabinet_leads,${l.id},MANUAL\n`);
        if (planted === 'origin_wrong_lead') originsOut.write(`${key},cabinet_lead,${wrongLead}\n`);
        writeTruth(l, d.driverId, planted, 'ORIGIN_REPAIR');
        break;
      }
      case 'missing_keys': {
        const d = makeDriver({ hireDay: hireAny(day) });
        writeDriver(d);
        const l = baseLead(day);
        withoutPhone(l);
        l.plate = chance(0.5) ? '' : '--';
        l.name = closeName(d.name, false);
        writeLead(l);
        writeTruth(l, d.driverId, planted, expectedOutcome(modelLead(l), [], []));
        break;
      }
      case 'window_hides_older_driver': {
        /*
         * docs/matching-rules.md §2: R3B applies only when R3 had no candidate at all. The lead's
         * name matches A (hired long before the window), but B on the same plate
         * is inside the window with another name: R3 is weak, R3B is not tried.
         */
        const a = makeDriver({ hireDay: day - 400 - int(300) });
        let pb: Person;
        do pb = newPerson();
        while (nameSimilarity(fullTokens(pb), a.tokens) >= 0.4);
        const b = makeDriver({ hireDay: day - int(60), person: pb, plate: { norm: a.plate, style: a.plateStyle } });
        writeDriver(a);
        writeDriver(b);
        const l = baseLead(day);
        withoutPhone(l);
        withPlate(l, a.plate, a.plateStyle);
        l.name = { first: a.name.given.join(' '), middle: '', last: a.name.surnames.join(' ') };
        writeLead(l);
        writeTruth(l, a.driverId, planted, expectedOutcome(modelLead(l), [], [a, b]));
        break;
      }
      case 'no_lead_date_weak_name': {
        /* No lead date and nothing links: the reason is INVALID_LEAD_DATE, whatever else went wrong. */
        const d = makeDriver({ hireDay: hireAny(day) });
        writeDriver(d);
        const l = baseLead(null);
        withoutPhone(l);
        withPlate(l, d.plate, d.plateStyle);
        l.name = otherName(d.name);
        writeLead(l);
        writeTruth(l, d.driverId, planted, expectedOutcome(modelLead(l), [], [d]));
        break;
      }
      case 'typo_plate_substitution':
      case 'typo_plate_lookalike':
      case 'typo_plate_transposition': {
        /* The stuck lead of issue 16: no phone, a close name, the plate with one character wrong. */
        const kind: KeyEdit = planted === 'typo_plate_substitution' ? 'substitution' : planted === 'typo_plate_lookalike' ? 'lookalike' : 'transposition';
        const d = makeDriver({ hireDay: hireInWindow(day) });
        typoable('plate', d, kind);
        writeDriver(d);
        const l = baseLead(day);
        withoutPhone(l);
        withPlate(l, leadNearKey('plate', d.plate, kind), d.plateStyle);
        agreeingName(l, d);
        l.park = d.park;
        writeLead(l);
        writeNearTruth(l, d.driverId, planted, 'R4_PLATE_NEAR');
        break;
      }
      case 'typo_phone_digit':
      case 'typo_phone_swap': {
        /* No plate, a close name, the phone with one digit wrong or two adjacent digits swapped. */
        const kind: KeyEdit = planted === 'typo_phone_digit' ? 'substitution' : 'transposition';
        const d = makeDriver({ hireDay: hireAny(day) });
        typoable('phone', d, kind);
        writeDriver(d);
        const l = baseLead(day);
        withPhone(l, leadNearKey('phone', d.phone, kind));
        agreeingName(l, d);
        l.park = chance(0.7) ? d.park : pick(PARKS);
        writeLead(l);
        writeNearTruth(l, d.driverId, planted, 'R5_PHONE_NEAR');
        break;
      }
      case 'typo_name_plate_exact': {
        /*
         * The plate exact and one name token misspelt, so that R3/R3B find the plate but call the name weak: the lead
         * names the given name and both surnames (3 tokens), one of them misspelt, which puts the similarity under the
         * threshold (2 of 3 tokens: 0.58; 2 of the driver's 4: 0.45) while one edit per token still agrees.
         */
        let p: Person;
        let tokens: string[];
        do {
          p = newPerson();
          tokens = [...nameTokens(p.given[0]!), ...nameTokens(p.surnames.join(' '))];
        } while (tokens.length !== 3 || fullTokens(p).length !== p.given.length + 2 || !tokens.some((t) => t.length >= 5));
        const d = makeDriver({ hireDay: hireInWindow(day), person: p });
        writeDriver(d);
        const l = baseLead(day);
        withoutPhone(l);
        withPlate(l, d.plate, d.plateStyle);
        l.park = d.park;
        for (;;) {
          const typed = [...tokens];
          const long = typed.flatMap((t, i) => (t.length >= 5 ? [i] : []));
          const at = pick(long);
          typed[at] = misspell(typed[at]!);
          l.name = { first: styleName(typed[0]!), middle: '', last: styleName(`${typed[1]} ${typed[2]}`) };
          const e = expectedOutcome(modelLead(l), [], [d]);
          if (!e.link && e.reason === 'WEAK_MATCH_ONLY' && fuzzyNameSimilarity(modelLead(l).tokens, d.tokens) >= THRESHOLD) break;
        }
        writeLead(l);
        writeNearTruth(l, d.driverId, planted, 'R6_NAME_NEAR_PLATE');
        break;
      }
      case 'trap_near_plate_other_name':
      case 'trap_near_phone_other_name': {
        /* The lead's key is one edit from B's, and its name disagrees with B's: nobody the lead belongs to is known. */
        const b = makeDriver({ hireDay: hireInWindow(day) });
        writeDriver(b);
        const l = baseLead(day);
        if (planted === 'trap_near_plate_other_name') {
          withoutPhone(l);
          withPlate(l, leadNearKey('plate', b.plate, anyPlateEdit(b.plate)), b.plateStyle);
        } else {
          withPhone(l, leadNearKey('phone', b.phone, hasFree('phone', b.phone, 'transposition') ? pick<KeyEdit>(['substitution', 'transposition']) : 'substitution'));
        }
        l.name = otherName(b.name);
        l.park = b.park;
        writeLead(l);
        writeTruth(l, null, planted, expectedOutcome(modelLead(l), [], []));
        break;
      }
      case 'trap_namesakes_near_plate':
      case 'trap_namesakes_near_phone': {
        /*
         * Two namesakes (two persons), same park and hire date, each one substitution from the lead's key, the lead
         * naming them exactly: equally good, so no link; which of them the lead is cannot be known (no true driver).
         */
        const park = pick(PARKS);
        const hire = hireInWindow(day);
        const a = makeDriver({ hireDay: hire, park });
        const l = baseLead(day);
        let b: DriverRec;
        if (planted === 'trap_namesakes_near_plate') {
          withoutPhone(l);
          const typed = leadNearKey('plate', a.plate, 'substitution');
          withPlate(l, typed, a.plateStyle);
          b = makeDriver({ hireDay: hire, park, person: a.name, plate: { norm: driverNearKey('plate', typed, 'substitution'), style: a.plateStyle } });
        } else {
          const typed = leadNearKey('phone', a.phone, 'substitution');
          withPhone(l, typed);
          b = makeDriver({ hireDay: hire, park, person: a.name, phone: driverNearKey('phone', typed, 'substitution') });
        }
        writeDriver(a);
        writeDriver(b);
        l.name = fullName(a.name);
        l.park = park;
        writeLead(l);
        writeTruth(l, null, planted, expectedOutcome(modelLead(l), [], []));
        break;
      }
      case 'trap_exact_beats_near': {
        /* A's phone exactly, and a plate one edit from B's, B being A's namesake: the exact rule decides, A. */
        const a = makeDriver({ hireDay: hireAny(day) });
        const b = makeDriver({ hireDay: hireInWindow(day), person: a.name, park: a.park });
        writeDriver(a);
        writeDriver(b);
        const l = baseLead(day);
        withPhone(l, a.phone);
        withPlate(l, leadNearKey('plate', b.plate, anyPlateEdit(b.plate)), b.plateStyle);
        l.name = fullName(a.name);
        l.park = a.park;
        writeLead(l);
        writeTruth(l, a.driverId, planted, expectedOutcome(modelLead(l), [a], []));
        break;
      }
      case 'trap_near_breaks_no_tie': {
        /* A's phone, shared with B (another person): R1 is ambiguous; a plate one edit from A's must not break the tie. */
        const a = makeDriver({ hireDay: hireInWindow(day) });
        const b = makeDriver({ hireDay: hireAny(day), park: a.park, phone: a.phone });
        writeDriver(a);
        writeDriver(b);
        const l = baseLead(day);
        withPhone(l, a.phone);
        withPlate(l, leadNearKey('plate', a.plate, anyPlateEdit(a.plate)), a.plateStyle);
        agreeingName(l, a);
        l.park = a.park;
        writeLead(l);
        writeTruth(l, a.driverId, planted, expectedOutcome(modelLead(l), [a, b], []));
        break;
      }
      case 'no_true_driver': {
        const l = baseLead(day);
        const r = int(3);
        if (r !== 1) withPhone(l, freePhone());
        else withoutPhone(l);
        if (r !== 0) withPlate(l, freePlate(), 3);
        l.name = { first: titleCase(pick(givenPool)), middle: '', last: titleCase(pick(surnamePool)) };
        writeLead(l);
        writeTruth(l, null, planted, expectedOutcome(modelLead(l), [], []));
        break;
      }
    }
  }
  // Background drivers: in the fleet, never named by a lead.
  while (driverCount < opts.drivers) writeDriver(makeDriver({ hireDay: hireAny(ANCHOR_DAY - int(365)) }), true);

  const counts = {
    leads: leadsOut.rows,
    drivers: driversOut.rows,
    activity: activityOut.rows,
    links: linksOut.rows,
    origins: originsOut.rows,
    recoverable,
    by_case: byCase,
  };
  for (const o of [leadsOut, driversOut, activityOut, truthOut, linksOut, originsOut]) o.close();
  return { out: opts.out, files, counts, duration_ms: Date.now() - started };
}
