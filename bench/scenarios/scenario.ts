// What a scenario is, what it gets and what it gives back.
import type { JsonObject } from '../lib/json-fields.js';
import type { ProcessRegistry } from '../lib/process-registry.js';
import type { ProgressReporter } from '../lib/progress-reporter.js';
import type { RunnerOptions, ScenarioName } from '../lib/runner-options.js';
import type { TargetName } from '../lib/server-process.js';

export interface Figure {
  /** Stable name, the row of the table and the key in the JSON file. */
  name: string;
  unit: string;
  /** Which way is good: decides nothing, but the table says it. */
  better: 'lower' | 'higher' | 'none';
  /** null when the scenario failed or the figure cannot be computed (no messages...). */
  value: number | null;
  /** The project's target for the figure, in words (e.g. "<= 256"). */
  target?: string;
}

export interface ScenarioResult {
  figures: Figure[];
  /** Everything measured, for the JSON file. */
  details: JsonObject;
  /**
   * Set when a later step failed after earlier figures were measured (a long run should not
   * lose them): the run counts as failed and keeps its figures.
   */
  error?: string;
}

export interface ScenarioContext {
  repoRoot: string;
  /** Path of the loadgen binary. */
  loadgen: string;
  target: TargetName;
  options: RunnerOptions;
  registry: ProcessRegistry;
  progress: ProgressReporter;
  /** Seconds left before the hard limit. */
  remainingSeconds(): number;
}

export interface Scenario {
  name: ScenarioName;
  /** One sentence: what load, what it shows. */
  description: string;
  /** The server's --poll-timeout for this scenario (seconds). */
  pollTimeout: number;
  /** The server's --ttl (seconds) and --max-queue, when not PROTOCOL.md's 60 and 1000. */
  ttl?: number;
  maxQueue?: number;
  /** Targets the scenario cannot drive, and why (Nchan has no fan-out line, no since= cursor...). */
  unsupported?: Partial<Record<TargetName, string>>;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
