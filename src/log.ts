// Operational log lines on stderr (stdout carries only the ready line, which
// scripts parse). One line per event, prefixed with time and thread.
import { isMainThread, threadId } from 'node:worker_threads';

const who = isMainThread ? 'main' : `worker#${threadId}`;

export function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} megacomet[${who}] ${message}\n`);
}
