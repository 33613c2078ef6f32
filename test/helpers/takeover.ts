// Shared by the takeover tests: a private control socket path per test, and
// one handover (a new process started with --takeover, the old one's exit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startServer, type Exit, type RunningServer } from './server.js';
import { waitFor, withTimeout } from './wait.js';

/** A control socket path in a fresh directory (removed after the test), short enough for sun_path. */
export function controlSocketPath(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mc-tk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'c.sock');
}

/**
 * Starts a new process with --takeover on `path` (and `args`; its ports
 * default to 0, "the old process's"), waits for its ready line and for the
 * old process to exit.
 */
export async function takeOver(t: Test, old: RunningServer, path: string, args: readonly string[] = []): Promise<{ next: RunningServer; oldExit: Exit }> {
  old.expectExit();
  const next = await startServer(t, ['--takeover', '--control-socket', path, ...args]);
  const oldExit = await withTimeout(old.exited, 20_000, `the old process (pid ${old.pid}) to exit after handing over`);
  return { next, oldExit };
}

/**
 * Passes once `pattern` appears in what `server` wrote to stderr. A log line
 * travels on its own pipe, so it may arrive after an answer on a socket, or
 * after the process's exit event: wait for it rather than read it once.
 */
export async function expectLogged(t: Test, server: { stderr(): string }, pattern: RegExp, what = `logged ${pattern}`): Promise<void> {
  try {
    await waitFor(`the log line ${pattern}`, () => pattern.test(server.stderr()));
    t.pass(what);
  } catch {
    t.match(server.stderr(), pattern, what);
  }
}
