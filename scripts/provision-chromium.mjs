#!/usr/bin/env node
// `npm test` runs this first (package.json "pretest"): the dashboard test drives the system's Chromium
// (Debian's /usr/bin/chromium, or CHROMIUM_PATH); no browser is ever downloaded through npm.
// When it is missing: as root, installs Debian's package with apt-get; otherwise says what to install, and fails.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const target = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

if (!executable(target)) {
  if (process.env.CHROMIUM_PATH) {
    console.error(`idgap: CHROMIUM_PATH=${target} is not an executable file: fix it, or unset it to use Debian's /usr/bin/chromium`);
    process.exit(1);
  }
  if (process.getuid?.() !== 0) {
    console.error('idgap: the dashboard test needs Chromium at /usr/bin/chromium: run `sudo apt-get install chromium` (Debian), or set CHROMIUM_PATH');
    process.exit(1);
  }
  console.error("== installing Debian's chromium for the dashboard test (apt-get update, apt-get install -y chromium)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Wait for another apt/dpkg run on the machine rather than failing on its lock.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  try {
    execFileSync('apt-get', [...lock, 'update', '-qq'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    execFileSync('apt-get', [...lock, 'install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } catch (e) {
    console.error(`idgap: installing chromium with apt-get failed (${e.message.split('\n')[0]}): run \`apt-get install chromium\` yourself, then npm test`);
    process.exit(1);
  }
  if (!executable(target)) {
    console.error(`idgap: apt-get installed chromium but ${target} is still missing: set CHROMIUM_PATH to the browser's path`);
    process.exit(1);
  }
  console.error(`== chromium installed: ${target}`);
}
