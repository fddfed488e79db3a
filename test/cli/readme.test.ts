import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';

/*
 * The README against the program: every `idgap` command and flag it names exists in the built CLI's --help (the
 * commands are read from `idgap --help`, so commands added later are covered), and every path its layout names
 * exists. Text outside code (inline `…` or fenced blocks) is prose and is not read.
 */
const run = promisify(execFile);
const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The code of the README: fenced blocks and inline spans, each a string. */
function codeOf(markdown: string): string[] {
  const fenced = [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  const prose = markdown.replace(/^```[a-z]*\n[\s\S]*?^```/gm, '');
  const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...fenced, ...inline];
}

interface Usage {
  command: string;
  flags: string[];
  text: string;
}

/** Every `idgap [--database X] COMMAND …` in the README's code, with the --flags that follow it (up to a comment, pipe or line end). */
function usages(markdown: string): Usage[] {
  const found: Usage[] = [];
  for (const code of codeOf(markdown)) {
    for (const line of code.split('\n')) {
      for (const m of line.matchAll(/(?:^|[\s(])(?:npx )?idgap((?: --database [a-z_0-9]+)?) ([a-z][a-z-]*)([^#;`]*)/g)) {
        const rest = m[3]!.replace(/ \| .*$/, '');
        found.push({ command: m[2]!, flags: [...`${m[1]} ${rest}`.matchAll(/(?:^|[\s[(|])(--[a-z][a-z-]*)/g)].map((f) => f[1]!), text: m[0].trim() });
      }
    }
  }
  return found;
}

describe('the README matches the program', () => {
  let bin: string;
  let commands: string[];
  let globalHelp: string;
  const help = new Map<string, string>();
  beforeAll(async () => {
    bin = await ensureCliBuilt();
    globalHelp = (await run(process.execPath, [bin, '--help'])).stdout;
    commands = [...globalHelp.slice(globalHelp.indexOf('\nCommands:')).matchAll(/^ {2}([a-z][a-z-]*)(?: |$)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    for (const c of commands) {
      let text = (await run(process.execPath, [bin, c, '--help'])).stdout;
      // A command with subcommands (idgap review list|show|accept|reject): their flags count as the command's.
      const subs = text.includes('\nCommands:') ? [...text.slice(text.indexOf('\nCommands:')).matchAll(/^ {2}([a-z][a-z-]*)(?: |$)/gm)].map((m) => m[1]!).filter((s) => s !== 'help') : [];
      for (const sub of subs) text += (await run(process.execPath, [bin, c, sub, '--help'])).stdout;
      help.set(c, text);
    }
  }, 180_000);

  it('names only commands that exist, with flags their --help lists', () => {
    const named = usages(readme);
    expect(named.length).toBeGreaterThan(30);
    expect([...new Set(named.flatMap((u) => u.flags))]).toEqual(expect.arrayContaining(['--batch-size', '--check', '--json', '--worker-only', '--no-cron', '--database', '--date']));
    const problems: string[] = [];
    for (const u of named) {
      if (!commands.includes(u.command)) {
        problems.push(`${u.text}: no command "${u.command}" in idgap --help`);
        continue;
      }
      for (const flag of u.flags) {
        const listed = (text: string) => new RegExp(`(^|[\\s,])${flag}(?=[\\s,=<[]|$)`, 'm').test(text);
        if (!listed(help.get(u.command)!) && !listed(globalHelp)) problems.push(`${u.text}: ${flag} is not an option of idgap ${u.command}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names every command of idgap --help', () => {
    const named = new Set(usages(readme).map((u) => u.command));
    expect(commands.filter((c) => !named.has(c))).toEqual([]);
  });

  it('finds what it checks: a wrong command or flag in the README would be reported', () => {
    const wrong = usages('Run `npx idgap recover --batch-sise 10` and `idgap diagnoze`.');
    expect(wrong).toEqual([
      { command: 'recover', flags: ['--batch-sise'], text: 'npx idgap recover --batch-sise 10' },
      { command: 'diagnoze', flags: [], text: 'idgap diagnoze' },
    ]);
  });

  it('gives the demo the batch size the README\'s tuning table gives recovery', () => {
    const tuned = readme.match(/^\| recovery batch size \| ([\d,]+) leads/m);
    expect(tuned).not.toBeNull();
    const demoDefault = help.get('demo')!.replace(/\s+/g, ' ').match(/--batch-size <n> .*?\(default: "(\d+)"\)/);
    expect(demoDefault?.[1]).toBe(tuned![1]!.replace(/,/g, ''));
  });

  it('names only paths that exist in its layout', () => {
    const start = readme.indexOf('\n### Layout\n');
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf('\n#', start + 5);
    const section = readme.slice(start, end === -1 ? undefined : end);
    const paths = [...section.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!).filter((p) => /^[a-z][\w.-]*(\/[\w.-]*)*$/i.test(p) && !p.startsWith('dist/'));
    expect(paths.length).toBeGreaterThan(25);
    expect(paths.filter((p) => !existsSync(path.join(PROJECT_ROOT, p)))).toEqual([]);
  });

  it('names every top-level module of src/ and every directory of it in its layout', () => {
    const start = readme.indexOf('\n### Layout\n');
    const end = readme.indexOf('\n#', start + 5);
    const section = readme.slice(start, end === -1 ? undefined : end);
    const named = new Set([...section.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!.replace(/\/$/, '')));
    const modules = readdirSync(path.join(PROJECT_ROOT, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory() || e.name.endsWith('.ts'))
      .map((e) => `src/${e.name}`);
    expect(modules.filter((m) => !named.has(m))).toEqual([]);
  });

  it('cites documents that are in the repository, not the SPEC', () => {
    expect(readme).not.toMatch(/\bSPEC\b/);
    const links = [...readme.matchAll(/\]\(((?!https?:)[^)#]+)\)/g)].map((m) => m[1]!);
    expect(links.filter((l) => !existsSync(path.join(PROJECT_ROOT, l)))).toEqual([]);
  });
});
