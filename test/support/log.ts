import { pino } from 'pino';
import { setLogger, type Log } from '../../src/log.js';

/** A silent logger for tests, also installed as the process logger the tasks use. */
export function silentLog(): Log {
  const log = pino({ level: 'silent' });
  setLogger(log);
  return log;
}

/** A logger that keeps every line in memory, for tests that assert on events. */
export function capturingLog(): { log: Log; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  setLogger(log);
  return { log, lines };
}
