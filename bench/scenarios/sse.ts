// (sse) Server-Sent Events next to long-poll: the idle scenario's method (hold 1k, 5k, 15k
// subscribers after a warm-up, RSS per subscriber from the warm baseline and between levels) and
// the throughput scenario's load (10k subscribers, 200k messages to random clients as fast as
// acknowledged), with every client on an event stream (GET /events, loadgen mode "sse") instead
// of a long-poll. The idle and throughput scenarios of the same run are the long-poll figures to
// compare with; the baseline serves no /events, so this scenario runs on MegaComet only.
import { idle } from './idle.js';
import type { Figure, Scenario, ScenarioContext } from './scenario.js';
import { throughput } from './throughput.js';

/** A long-poll figure's name as its event-stream twin. */
function renamed(f: Figure): Figure {
  return { ...f, name: `SSE ${f.name.replace('held poll', 'idle stream').replace(' polls', ' streams')}` };
}

export const sse: Scenario = {
  name: 'sse',
  pollTimeout: idle.pollTimeout,
  description: 'event streams (GET /events) instead of polls: idle memory per stream at 1k/5k/15k (the idle method) and delivered msgs/s to 10k streams (the throughput load)',
  async run(ctx) {
    if (ctx.target !== 'megacomet') {
      return { figures: [], details: { skipped: `${ctx.target} serves no GET /events` } };
    }
    const streams: ScenarioContext = { ...ctx, options: { ...ctx.options, transport: 'sse' } };
    const idleRun = await idle.run(streams);
    const figures = idleRun.figures.map(renamed);
    if (idleRun.error !== undefined) return { figures, details: { idle: idleRun.details }, error: idleRun.error };
    // The idle levels are a list; the delivery load is 10k streams unless one --connections value is given.
    const load: ScenarioContext = ctx.options.connections?.length === 1 ? streams : { ...streams, options: { ...streams.options, connections: null } };
    const deliveryRun = await throughput.run(load);
    figures.push(...deliveryRun.figures.map(renamed));
    return { figures, details: { idle: idleRun.details, throughput: deliveryRun.details }, ...(deliveryRun.error === undefined ? {} : { error: deliveryRun.error }) };
  },
};
