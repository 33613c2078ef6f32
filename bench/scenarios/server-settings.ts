// The server flags each scenario runs with (both servers take the same ones).
import type { ServerSettings } from '../lib/server-process.js';
import type { Scenario, ScenarioContext } from './scenario.js';

/** PROTOCOL.md defaults except the poll timeout, which each scenario picks for its load. */
export function settingsFor(ctx: ScenarioContext, pollTimeout: number): ServerSettings {
  return { pollTimeout, ttl: 60, maxQueue: 1000, threads: ctx.options.threads };
}

/** A scenario's own flags: its poll timeout, and its --ttl and --max-queue where it sets them. */
export function settingsOf(scenario: Scenario, threads: number): ServerSettings {
  return { pollTimeout: scenario.pollTimeout, ttl: scenario.ttl ?? 60, maxQueue: scenario.maxQueue ?? 1000, threads };
}
