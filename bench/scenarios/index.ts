// The table of scenarios `npm run bench` runs, in order.
import type { ScenarioName } from '../lib/runner-options.js';
import { broadcast } from './broadcast.js';
import { churn } from './churn.js';
import { fanout } from './fanout.js';
import { idle } from './idle.js';
import { latency } from './latency.js';
import { million } from './million.js';
import { repoll } from './repoll.js';
import type { Scenario } from './scenario.js';
import { redis } from './redis.js';
import { sse } from './sse.js';
import { throughput } from './throughput.js';

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = { idle, throughput, sse, latency, churn, fanout, broadcast, repoll, million, redis };
