// PROTOCOL.md section 1: the /poll parameter rules, as a table.
import t from 'tap';
import { parsePollQuery } from '../src/worker/poll-query.js';

t.test('valid queries give their parameters', async (t) => {
  const cases: [string, { client: string; since: number; callback?: string; token?: string }][] = [
    ['client=a', { client: 'a', since: 0 }],
    ['client=A-z_0:9&since=0', { client: 'A-z_0:9', since: 0 }],
    ['client=a&since=', { client: 'a', since: 0 }],
    ['client=a&since=42', { client: 'a', since: 42 }],
    ['client=a&since=9007199254740991', { client: 'a', since: 2 ** 53 - 1 }],
    ['client=' + 'x'.repeat(64), { client: 'x'.repeat(64), since: 0 }],
    ['client=%61%62', { client: 'ab', since: 0 }],
    ['_=123&client=a&foo&&bar=%20', { client: 'a', since: 0 }],
    ['client=a&callback=$', { client: 'a', since: 0, callback: '$' }],
    ['client=a&callback=jQuery.cb_1', { client: 'a', since: 0, callback: 'jQuery.cb_1' }],
    ['client=a&callback=' + 'f'.repeat(64), { client: 'a', since: 0, callback: 'f'.repeat(64) }],
    ['client=a&token=abc', { client: 'a', since: 0, token: 'abc' }],
  ];
  for (const [query, want] of cases) {
    const r = parsePollQuery(query);
    t.ok(r.ok, `${query} is accepted`);
    if (r.ok) {
      t.equal(r.params.client, want.client, `${query}: client`);
      t.equal(r.params.since, want.since, `${query}: since`);
      t.equal(r.params.callback, want.callback, `${query}: callback`);
      t.equal(r.params.token, want.token, `${query}: token`);
    }
  }
});

t.test('invalid queries are refused, with the callback only when it is single and valid', async (t) => {
  const cases: [string, string | undefined][] = [
    ['', undefined],
    ['client=', undefined],
    ['since=1', undefined],
    ['client=a.b', undefined],
    ['client=' + 'x'.repeat(65), undefined],
    ['client=a%20b', undefined],
    ['client=%C3%A9', undefined],
    ['client=a&since=007', undefined],
    ['client=a&since=-1', undefined],
    ['client=a&since=%2B1', undefined],
    ['client=a&since=1e3', undefined],
    ['client=a&since=9007199254740992', undefined],
    ['client=a&since=99999999999999999', undefined],
    ['client=a&client=b', undefined],
    ['client=a&since=1&since=2', undefined],
    ['client=a&%zz=1', undefined],
    ['client=%zz', undefined],
    ['client=a&callback=1abc', undefined],
    ['client=a&callback=a-b', undefined],
    ['client=a&callback=' + 'f'.repeat(65), undefined],
    ['client=a&callback=f&callback=f', undefined],
    ['client=a&callback=', undefined],
    ['client=a.b&callback=cb', 'cb'],
    ['client=a&since=01&callback=cb', 'cb'],
    ['client=a&client=b&callback=cb', 'cb'],
    ['client=%zz&callback=cb', 'cb'],
  ];
  for (const [query, callback] of cases) {
    const r = parsePollQuery(query);
    t.notOk(r.ok, `${JSON.stringify(query)} is refused`);
    if (!r.ok) {
      t.equal(r.error.callback, callback, `${JSON.stringify(query)}: JSONP callback for the error`);
      t.ok(r.error.message.length > 0, 'says why');
      if (callback === undefined && query.includes('callback=1abc')) t.notMatch(r.error.message, '1abc', 'the invalid name is not echoed');
    }
  }
});
