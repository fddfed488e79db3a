import { describe, expect, it } from 'vitest';
import { swrCache } from '../../src/api/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('swrCache (the API read cache)', () => {
  it('serves a fresh value without reading again, and shares one read between concurrent callers', async () => {
    const cache = swrCache<number>({ freshMs: 1000, maxStaleMs: 5000, concurrency: 2 });
    let reads = 0;
    const load = async () => { reads += 1; await sleep(20); return reads; };
    const [a, b] = await Promise.all([cache('k', load), cache('k', load)]);
    expect([a, b, reads]).toEqual([1, 1, 1]);
    expect(await cache('k', load)).toBe(1);
    expect(reads).toBe(1);
  });

  it('serves a stale value at once while one background read refreshes it', async () => {
    /* Margins of 100 ms or more on every timing: the suite runs beside other suites on 2 cores, where a timer fires
       tens of milliseconds late (a fresh value of 100 ms went stale again before the last read, and a third read began). */
    const cache = swrCache<number>({ freshMs: 400, maxStaleMs: 5000, concurrency: 2 });
    let reads = 0;
    const load = async () => { reads += 1; await sleep(150); return reads; };
    expect(await cache('k', load)).toBe(1);
    await sleep(420);
    const started = Date.now();
    expect(await cache('k', load)).toBe(1);
    expect(Date.now() - started).toBeLessThan(100);
    expect(await cache('k', load)).toBe(1);
    await sleep(250);
    expect(await cache('k', load)).toBe(2);
    expect(reads).toBe(2);
  });

  it('reads again before answering once a value is older than maxStaleMs', async () => {
    const cache = swrCache<number>({ freshMs: 10, maxStaleMs: 40, concurrency: 1 });
    let reads = 0;
    const load = async () => ++reads;
    expect(await cache('k', load)).toBe(1);
    await sleep(60);
    expect(await cache('k', load)).toBe(2);
  });

  it('runs at most `concurrency` reads at a time', async () => {
    const cache = swrCache<number>({ freshMs: 1000, maxStaleMs: 5000, concurrency: 2 });
    let running = 0;
    let peak = 0;
    const load = async () => { running += 1; peak = Math.max(peak, running); await sleep(20); running -= 1; return 0; };
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => cache(k, load)));
    expect(peak).toBe(2);
  });

  it('passes a failed first read to the caller and keeps no entry, keeps the old value when a refresh fails', async () => {
    const errors: string[] = [];
    const cache = swrCache<number>({ freshMs: 10, maxStaleMs: 5000, concurrency: 1, onError: (e) => errors.push(e.message) });
    await expect(cache('k', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await cache('k', async () => 7)).toBe(7);
    await sleep(20);
    expect(await cache('k', async () => { throw new Error('later'); })).toBe(7);
    await sleep(10);
    expect(errors).toEqual(['later']);
    expect(await cache('k', async () => 8)).toBe(7);
  });
});
