import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, PLANTED_CASES, TRAP_CASES, TYPO_CASES, type GenerateResult } from '../../src/generate/generate.js';
import { DISAGREE, fuzzyNameSimilarity, keyEdit, nameSimilarity, nameTokens, THRESHOLD, tokensWithinOneEdit } from '../../src/generate/rules.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'idgap-generate-'));
const read = (dir: string, file: string) => parse(readFileSync(path.join(dir, file)), { columns: true }) as Array<Record<string, string>>;

describe('idgap generate', () => {
  let a: GenerateResult;
  let b: GenerateResult;
  let c: GenerateResult;
  beforeAll(async () => {
    a = await generate({ leads: 3000, drivers: 3000, seed: 7, out: tmp() });
    b = await generate({ leads: 3000, drivers: 3000, seed: 7, out: tmp() });
    c = await generate({ leads: 3000, drivers: 3000, seed: 8, out: tmp() });
  });

  it('writes the same bytes twice for the same seed', () => {
    const files = readdirSync(a.out).sort();
    expect(files).toEqual(['activity.csv', 'drivers.csv', 'leads.csv', 'links.csv', 'origins.csv', 'truth.csv']);
    for (const f of files) expect(readFileSync(path.join(b.out, f)).equals(readFileSync(path.join(a.out, f)))).toBe(true);
  });

  it('writes different data for another seed', () => {
    for (const f of ['leads.csv', 'drivers.csv', 'truth.csv']) {
      expect(readFileSync(path.join(c.out, f)).equals(readFileSync(path.join(a.out, f)))).toBe(false);
    }
  });

  it('writes the requested numbers of leads and drivers, and one truth row per lead', () => {
    const leads = read(a.out, 'leads.csv');
    const truth = read(a.out, 'truth.csv');
    expect(leads).toHaveLength(3000);
    expect(read(a.out, 'drivers.csv')).toHaveLength(3000);
    expect(truth.map((t) => t.lead_id).sort()).toEqual(leads.map((l) => l.external_id).sort());
    expect(new Set(leads.map((l) => l.external_id)).size).toBe(3000);
    expect(leads.every((l) => /^[0-9a-f]{32}$/.test(l.external_id!))).toBe(true);
  });

  it('plants every case of SPEC 7 with the expected outcome', () => {
    const truth = read(a.out, 'truth.csv');
    const cases = new Set(truth.map((t) => t.planted_case));
    expect([...cases].sort()).toEqual([...PLANTED_CASES].sort());
    const outcome = (planted: string) => new Set(truth.filter((t) => t.planted_case === planted).map((t) => `${t.recoverable}/${t.expected_rule}/${t.expected_reason}`));
    expect(outcome('unique_phone')).toEqual(new Set(['true/R1_PHONE_EXACT/']));
    expect(outcome('phone_other_park')).toEqual(new Set(['true/R1_PHONE_EXACT/']));
    expect(outcome('plate_name')).toEqual(new Set(['true/R3_PLATE_NAME/']));
    expect(outcome('plate_reordered_name')).toEqual(new Set(['true/R3_PLATE_NAME/']));
    expect(outcome('hire_out_of_window')).toEqual(new Set(['true/R3B_PLATE_NAME_ANY_DATE/']));
    expect(outcome('shared_phone')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(outcome('two_drivers_one_plate')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(outcome('rules_disagree')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(outcome('plate_weak_name')).toEqual(new Set(['false//WEAK_MATCH_ONLY']));
    expect(outcome('missing_keys')).toEqual(new Set(['false//MISSING_KEYS']));
    expect(outcome('no_true_driver')).toEqual(new Set(['false//NO_CANDIDATES']));
    expect(outcome('link_without_origin')).toEqual(new Set(['true/ORIGIN_REPAIR/']));
    expect(outcome('origin_wrong_lead')).toEqual(new Set(['true/ORIGIN_REPAIR/']));
    expect(outcome('window_hides_older_driver')).toEqual(new Set(['false//WEAK_MATCH_ONLY']));
    expect(outcome('no_lead_date_weak_name')).toEqual(new Set(['false//INVALID_LEAD_DATE']));
    for (const typo of ['typo_plate_substitution', 'typo_plate_lookalike', 'typo_plate_transposition']) expect(outcome(typo)).toEqual(new Set(['true/R4_PLATE_NEAR/']));
    for (const typo of ['typo_phone_digit', 'typo_phone_swap']) expect(outcome(typo)).toEqual(new Set(['true/R5_PHONE_NEAR/']));
    expect(outcome('typo_name_plate_exact')).toEqual(new Set(['true/R6_NAME_NEAR_PLATE/']));
    for (const trap of ['trap_near_plate_other_name', 'trap_near_phone_other_name', 'trap_namesakes_near_plate', 'trap_namesakes_near_phone']) {
      expect(outcome(trap)).toEqual(new Set(['false//NO_CANDIDATES']));
      expect(truth.filter((t) => t.planted_case === trap).every((t) => t.driver_id === '')).toBe(true);
    }
    expect(outcome('trap_exact_beats_near')).toEqual(new Set(['true/R1_PHONE_EXACT/']));
    expect(outcome('trap_near_breaks_no_tie')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(truth.filter((t) => TYPO_CASES.includes(t.planted_case as never)).every((t) => /^D\d{8}$/.test(t.driver_id!))).toBe(true);
    const repeat = truth.filter((t) => t.planted_case === 'two_leads_one_person');
    expect(new Set(repeat.map((t) => t.driver_id)).size).toBe(repeat.length / 2);
    expect(truth.filter((t) => t.planted_case === 'no_true_driver').every((t) => t.driver_id === '')).toBe(true);
  });

  it('plants links without origin and origins pointing to a lead of another person', () => {
    const links = read(a.out, 'links.csv');
    const origins = read(a.out, 'origins.csv');
    const truth = read(a.out, 'truth.csv');
    const leadLinks = links.filter((l) => l.source_table === 'module_ct_cabinet_leads');
    expect(leadLinks).toHaveLength(truth.filter((t) => t.planted_case === 'link_without_origin' || t.planted_case === 'origin_wrong_lead').length);
    for (const o of origins) {
      const own = leadLinks.find((l) => l.person_key === o.person_key)!;
      expect(own.source_pk).not.toBe(o.origin_source_id);
    }
  });

  it('writes phones in every format of SPEC 3.1, plates in several shapes, surname-first upper-case driver names and garbage activity dates', () => {
    const phones = read(a.out, 'leads.csv').map((l) => l.park_phone!);
    for (const re of [/^\+51 \d{3} \d{3} \d{3}$/, /^51\d{9}$/, /^\d{3}-\d{3}-\d{3}$/, /^\(0051\) \d{9}$/, /^$/]) expect(phones.some((p) => re.test(p))).toBe(true);
    const drivers = read(a.out, 'drivers.csv');
    const plates = drivers.map((d) => d.car_number!);
    for (const re of [/^[A-Z]{3}-\d{3}$/, /^[a-z]{3} \d{3}$/, /^[A-Z]\d[A-Z]\d{3}$/]) expect(plates.some((p) => re.test(p))).toBe(true);
    expect(drivers.some((d) => d.full_name === '' && d.first_name !== '' && d.last_name !== '')).toBe(true);
    expect(drivers.filter((d) => d.full_name).every((d) => d.full_name === d.full_name!.toUpperCase())).toBe(true);
    expect(drivers.some((d) => /[ÁÉÍÓÚÑ]/.test(d.full_name!))).toBe(true);
    expect(new Set(drivers.map((d) => d.park_id)).size).toBeGreaterThan(3);
    const dates = read(a.out, 'activity.csv').map((r) => r.date_file!);
    expect(dates.some((d) => /^\d{2}-\d{2}-\d{4}$/.test(d))).toBe(true);
    expect(dates.some((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))).toBe(true);
    expect(dates.some((d) => !/^\d{2}-\d{2}-\d{4}$|^\d{4}-\d{2}-\d{2}$/.test(d) || d === '31-02-2026' || d === '00-00-0000')).toBe(true);
  });

  describe('typo leads and near-key traps', () => {
    /* The keys as canon.norm_plate / canon.norm_phone read them (country code 51). */
    const plateKey = (raw: string) => raw.toUpperCase().replace(/[^A-Z0-9]/g, '');
    const phoneKey = (raw: string) => {
      const digits = raw.replace(/\D/g, '').replace(/^0+/, '');
      return digits.length === 11 && digits.startsWith('51') ? digits.slice(2) : digits;
    };
    interface Key { id: string; plate: string; phone: string; tokens: string[] }
    let drivers: Key[];
    let byId: Map<string, Key>;
    let leads: Array<Key & { planted: string; truth: string }>;
    const near = (what: 'plate' | 'phone', key: string) => drivers.filter((d) => keyEdit(key, d[what]) !== null);
    const ofCase = (planted: string) => leads.filter((l) => l.planted === planted);
    beforeAll(() => {
      drivers = read(a.out, 'drivers.csv').map((d) => ({
        id: d.driver_id!, plate: plateKey(d.car_number!), phone: phoneKey(d.phone!),
        tokens: nameTokens(d.full_name || `${d.first_name} ${d.middle_name} ${d.last_name}`),
      }));
      byId = new Map(drivers.map((d) => [d.id, d]));
      const truth = new Map(read(a.out, 'truth.csv').map((t) => [t.lead_id!, t]));
      leads = read(a.out, 'leads.csv').map((l) => ({
        id: l.external_id!, plate: plateKey(l.asset_plate_number!), phone: phoneKey(l.park_phone!),
        tokens: nameTokens(`${l.first_name} ${l.middle_name} ${l.last_name}`),
        planted: truth.get(l.external_id!)!.planted_case!, truth: truth.get(l.external_id!)!.driver_id!,
      }));
    });

    it('plants several of each typo case and trap at 3000 leads, and about 0.5 % of the leads each', () => {
      for (const c of [...TYPO_CASES, ...TRAP_CASES]) {
        expect(a.counts.by_case[c], c).toBeGreaterThanOrEqual(3);
        expect(a.counts.by_case[c], c).toBeLessThanOrEqual(40);
      }
    });

    it('gives each plate typo lead a plate one edit of the named kind from its true driver\'s, that no driver has, and a name that agrees', () => {
      const plates = new Set(drivers.map((d) => d.plate));
      for (const [planted, kind] of [['typo_plate_substitution', 'substitution'], ['typo_plate_lookalike', 'lookalike'], ['typo_plate_transposition', 'transposition']] as const) {
        for (const l of ofCase(planted)) {
          const d = byId.get(l.truth)!;
          expect(keyEdit(d.plate, l.plate), `${planted} ${d.plate} -> ${l.plate}`).toBe(kind);
          expect(plates.has(l.plate)).toBe(false);
          expect(l.phone.length).toBeLessThan(7); // no usable phone
          expect(nameSimilarity(l.tokens, d.tokens)).toBeGreaterThanOrEqual(THRESHOLD);
        }
      }
    });

    it('gives each phone typo lead a phone one digit substituted or two adjacent digits swapped from its true driver\'s, that no driver has', () => {
      const phones = new Set(drivers.map((d) => d.phone));
      for (const [planted, kind] of [['typo_phone_digit', 'substitution'], ['typo_phone_swap', 'transposition']] as const) {
        for (const l of ofCase(planted)) {
          const d = byId.get(l.truth)!;
          expect(keyEdit(d.phone, l.phone), `${planted} ${d.phone} -> ${l.phone}`).toBe(kind);
          expect(phones.has(l.phone)).toBe(false);
          expect(l.plate).toBe('');
          expect(nameSimilarity(l.tokens, d.tokens)).toBeGreaterThanOrEqual(THRESHOLD);
        }
      }
    });

    it('gives each name typo lead its driver\'s exact plate and one misspelt token: weak for the exact rules, agreeing with one edit per token', () => {
      for (const l of ofCase('typo_name_plate_exact')) {
        const d = byId.get(l.truth)!;
        expect(l.plate).toBe(d.plate);
        expect(nameSimilarity(l.tokens, d.tokens)).toBeLessThan(THRESHOLD);
        expect(fuzzyNameSimilarity(l.tokens, d.tokens)).toBeGreaterThanOrEqual(THRESHOLD);
        const misspelt = l.tokens.filter((t) => !d.tokens.includes(t));
        expect(misspelt).toHaveLength(1);
        expect(d.tokens.some((t) => tokensWithinOneEdit(t, misspelt[0]!))).toBe(true);
      }
    });

    it('gives each near-key trap a key one edit from another driver\'s whose name disagrees, and no near driver whose name agrees', () => {
      for (const [planted, what] of [['trap_near_plate_other_name', 'plate'], ['trap_near_phone_other_name', 'phone']] as const) {
        for (const l of ofCase(planted)) {
          expect(drivers.some((d) => d[what] === l[what])).toBe(false);
          const others = near(what, l[what]);
          expect(others.some((d) => fuzzyNameSimilarity(l.tokens, d.tokens) < DISAGREE)).toBe(true);
          expect(others.every((d) => fuzzyNameSimilarity(l.tokens, d.tokens) < THRESHOLD)).toBe(true);
        }
      }
    });

    it('gives each namesakes trap two drivers of the same name, one substitution each from the lead\'s key, and no exact key', () => {
      for (const [planted, what] of [['trap_namesakes_near_plate', 'plate'], ['trap_namesakes_near_phone', 'phone']] as const) {
        for (const l of ofCase(planted)) {
          expect(drivers.some((d) => d[what] === l[what])).toBe(false);
          const namesakes = near(what, l[what]).filter((d) => nameSimilarity(l.tokens, d.tokens) === 1);
          expect(namesakes.length).toBeGreaterThanOrEqual(2);
          expect(namesakes.every((d) => keyEdit(l[what], d[what]) === 'substitution')).toBe(true);
        }
      }
    });

    it('gives each exact-beats-near trap its true driver\'s exact phone and a plate one edit from a namesake\'s', () => {
      for (const l of ofCase('trap_exact_beats_near')) {
        const a2 = byId.get(l.truth)!;
        expect(l.phone).toBe(a2.phone);
        const b2 = near('plate', l.plate).filter((d) => d.id !== a2.id && nameSimilarity(d.tokens, a2.tokens) === 1);
        expect(b2.length).toBeGreaterThanOrEqual(1);
        expect(drivers.some((d) => d.plate === l.plate)).toBe(false);
      }
    });

    it('gives each no-tie trap a phone two persons share and a plate one edit from one of them', () => {
      for (const l of ofCase('trap_near_breaks_no_tie')) {
        const a2 = byId.get(l.truth)!;
        expect(drivers.filter((d) => d.phone === l.phone).length).toBe(2);
        expect(keyEdit(a2.plate, l.plate)).not.toBeNull();
        expect(nameSimilarity(l.tokens, a2.tokens)).toBeGreaterThanOrEqual(THRESHOLD);
      }
    });
  });

  it('tells one edit apart the way issue 16 defines it', () => {
    expect(keyEdit('ABC123', 'ABC124')).toBe('substitution');
    expect(keyEdit('ABC123', 'A8C123')).toBe('lookalike');
    expect(keyEdit('ABC123', 'ABC1Z3')).toBe('lookalike');
    expect(keyEdit('ABC123', 'ACB123')).toBe('transposition');
    expect(keyEdit('ABC123', 'ABC123')).toBeNull();
    expect(keyEdit('ABC123', 'ABD124')).toBeNull();
    expect(keyEdit('987654321', '987654312')).toBe('transposition');
    expect(tokensWithinOneEdit('QUISPE', 'QUISP')).toBe(true);
    expect(tokensWithinOneEdit('QUISPE', 'QUIISPE')).toBe(true);
    expect(tokensWithinOneEdit('QUISPE', 'QIUSPE')).toBe(true);
    expect(tokensWithinOneEdit('QUISPE', 'QUSPI')).toBe(false);
    expect(fuzzyNameSimilarity(nameTokens('Juan Qiuspe Mamani'), nameTokens('QUISPE MAMANI JUAN'))).toBe(1);
    expect(nameSimilarity(nameTokens('Juan Qiuspe Mamani'), nameTokens('QUISPE MAMANI JUAN'))).toBeLessThan(THRESHOLD);
  });

  it('scores names the way SPEC 3.1 says', () => {
    expect(nameTokens('José de la Cruz-Núñez')).toEqual(['CRUZ', 'JOSE', 'NUNEZ']);
    expect(nameSimilarity(nameTokens('Juan Quispe'), nameTokens('QUISPE MAMANI JUAN'))).toBeCloseTo(2 / 3, 12);
    expect(nameSimilarity(nameTokens('Juan Quispe'), nameTokens('QUISPE MAMANI JUAN'))).toBeGreaterThanOrEqual(0.66);
  });
});
