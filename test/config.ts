// The command line: defaults, parsing, and a clear message for every bad value.
import t from 'tap';
import { parseArgs, usage } from '../src/config.js';

t.test('defaults follow PROTOCOL.md and the issue', async (t) => {
  const c = parseArgs([]);
  t.equal(c.port, 8080);
  t.equal(c.host, '0.0.0.0');
  t.equal(c.appPort, 9090);
  t.equal(c.appHost, '127.0.0.1');
  t.equal(c.pollTimeoutMs, 25_000);
  t.equal(c.keepAliveTimeoutMs, 60_000);
  t.equal(c.headTimeoutMs, 10_000);
  t.equal(c.ttlMs, 60_000);
  t.equal(c.maxQueue, 1000);
  t.equal(c.maxLine, 1 << 20);
  t.equal(c.maxMessage, 64 << 10);
  t.equal(c.corsOrigin, '*');
  t.equal(c.portPerThread, false);
  t.equal(c.metricsPort, undefined, 'no metrics port unless asked');
  t.equal(c.metricsHost, '127.0.0.1', 'and loopback when asked');
  t.ok(c.threads >= 1);
  t.ok(Object.isFrozen(c), 'the config is frozen');
});

t.test('values are parsed in both --flag value and --flag=value forms', async (t) => {
  const c = parseArgs(['--threads', '8', '--port=0', '--poll-timeout', '0.5', '--port-per-thread', '--secret', 's3']);
  t.equal(c.threads, 8);
  t.equal(c.port, 0);
  t.equal(c.pollTimeoutMs, 500);
  t.equal(c.portPerThread, true);
  t.equal(c.secret, 's3');
});

t.test('every bad value names its flag', async (t) => {
  const bad: string[][] = [
    ['--threads', '0'],
    ['--threads', 'two'],
    ['--port', '70000'],
    ['--port', '-1'],
    ['--poll-timeout', '-1'],
    ['--poll-timeout', 'soon'],
    ['--ttl', '0'],
    ['--max-queue', '1.5'],
    ['--max-connections', '0'],
    ['--cors-origin', ''],
    ['--threads'],
    ['--port-per-thread=yes'],
    ['--port', '65535', '--threads', '2', '--port-per-thread'],
    ['--host', 'localhost'],
    ['--metrics-port', '65536'],
    ['--metrics-port'],
    ['--metrics-host', ''],
  ];
  for (const argv of bad) {
    t.throws(() => parseArgs(argv), { name: 'ConfigError' }, argv.join(' '));
    try {
      parseArgs(argv);
    } catch (err) {
      t.match((err as Error).message, `--${argv[0]!.slice(2).split('=')[0]}`, `${argv.join(' ')}: message names the flag`);
    }
  }
  t.throws(() => parseArgs(['--frobnicate']), /unknown flag --frobnicate/);
  t.throws(() => parseArgs(['--port', '1', '--port', '2']), /given twice/);
  t.throws(() => parseArgs(['stray']), /unexpected argument/);
});

t.test('--help is not an error and the usage lists every flag', async (t) => {
  t.throws(() => parseArgs(['--help']), { name: 'HelpRequested' });
  const text = usage();
  for (const flag of ['--threads', '--port', '--host', '--port-per-thread', '--poll-timeout', '--max-connections', '--cors-origin', '--app-port', '--app-host', '--app-secret', '--secret', '--ttl', '--max-queue', '--max-line', '--max-message', '--keepalive-timeout', '--metrics-host', '--metrics-port', '--help']) {
    t.match(text, flag);
  }
});
