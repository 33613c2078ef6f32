// Command line of the baseline server: the subset of MegaComet's flags the bench passes to both.
export interface BaselineOptions {
  readonly host: string;
  readonly port: number;
  readonly appHost: string;
  readonly appPort: number;
  /** Seconds a poll is held before its empty answer. */
  readonly pollTimeout: number;
  /** Seconds a message lives after its `ok`. */
  readonly ttl: number;
  readonly maxQueue: number;
  /** Fixed at MegaComet's defaults: the bench never changes them. */
  readonly maxLine: number;
  readonly maxMessage: number;
  readonly keepAliveTimeout: number;
}

const DEFAULTS: BaselineOptions = {
  host: '0.0.0.0',
  port: 8080,
  appHost: '127.0.0.1',
  appPort: 9090,
  pollTimeout: 25,
  ttl: 60,
  maxQueue: 1000,
  maxLine: 1048576,
  maxMessage: 65536,
  keepAliveTimeout: 60,
};

export class OptionError extends Error {}

function port(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new OptionError(`${flag} expects a port from 0 to 65535, got "${text}"`);
  return n;
}

function seconds(flag: string, text: string): number {
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n <= 0) throw new OptionError(`${flag} expects a positive number of seconds, got "${text}"`);
  return n;
}

function count(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw new OptionError(`${flag} expects a positive integer, got "${text}"`);
  return n;
}

/** Parses `--flag value` pairs; throws OptionError naming the flag on any bad or unknown one. */
export function parseBaselineOptions(argv: readonly string[]): BaselineOptions {
  const o = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    const value = argv[i + 1];
    if (value === undefined) throw new OptionError(`${flag} needs a value`);
    switch (flag) {
      case '--host': o.host = value; break;
      case '--port': o.port = port(flag, value); break;
      case '--app-host': o.appHost = value; break;
      case '--app-port': o.appPort = port(flag, value); break;
      case '--poll-timeout': o.pollTimeout = seconds(flag, value); break;
      case '--ttl': o.ttl = seconds(flag, value); break;
      case '--max-queue': o.maxQueue = count(flag, value); break;
      default: throw new OptionError(`unknown flag ${flag} (the baseline takes --host --port --app-host --app-port --poll-timeout --ttl --max-queue)`);
    }
  }
  return Object.freeze(o);
}
