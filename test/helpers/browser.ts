import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Where the browser tests keep their screenshots, as test artifacts. */
export const artifacts = join(new URL('../..', import.meta.url).pathname, '.tmp', 'browser');

/** Debian's `chromium`, headless: the tests drive the browser the machine has, never a downloaded one. */
export async function launchChromium(): Promise<Browser> {
  let executablePath: string;
  try {
    executablePath = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'no `chromium` on the PATH: install it (`apt-get install chromium` on Debian) to run the browser tests',
    );
  }
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}

/** A path for a screenshot among the artifacts, its folder made. */
export function artifact(name: string): string {
  mkdirSync(artifacts, { recursive: true });
  return join(artifacts, name);
}
