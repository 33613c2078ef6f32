// GET /events validation (src/worker/events-query.ts), table by table: the
// cursor from since, lastEventId and Last-Event-ID (the largest wins), and
// every refusal with the message that names what was wrong.
import t from 'tap';
import { parseEventsQuery } from '../src/worker/events-query.js';

t.test('the cursor is the largest of since, lastEventId and the Last-Event-ID header', async (t) => {
  const rows: Array<[string, string, number]> = [
    ['client=a', '', 0],
    ['client=a&since=5', '', 5],
    ['client=a&lastEventId=7', '', 7],
    ['client=a', '9', 9],
    ['client=a&since=5&lastEventId=7', '6', 7],
    ['client=a&since=50', '6', 50],
    ['client=a&since=&lastEventId=', '', 0],
    ['client=a&since=0', '0', 0],
    ['client=a&callback=cb&_=123', '', 0],
    [`client=a&since=${2 ** 53 - 1}`, '', 2 ** 53 - 1],
  ];
  for (const [query, header, since] of rows) {
    const r = parseEventsQuery(query, header);
    t.ok(r.ok, query);
    if (r.ok) t.equal(r.params.since, since, `${query} / Last-Event-ID ${JSON.stringify(header)}`);
  }
  const r = parseEventsQuery('client=c%3Ad&token=x%2By', '');
  t.same(r, { ok: true, params: { client: 'c:d', since: 0, token: 'x+y' } }, 'percent-decoded');
});

t.test('refusals name what is wrong', async (t) => {
  const rows: Array<[string, string, RegExp]> = [
    ['', '', /"client" is required/],
    ['client=', '', /"client" is required/],
    ['client=a.b', '', /"client" must be/],
    [`client=${'x'.repeat(65)}`, '', /"client" must be/],
    ['client=a&since=01', '', /"since" must be/],
    ['client=a&since=-1', '', /"since" must be/],
    [`client=a&since=${2 ** 53}`, '', /"since" must be/],
    ['client=a&lastEventId=x', '', /"lastEventId" must be/],
    ['client=a', '1.5', /Last-Event-ID must be/],
    ['client=a&client=b', '', /"client" is repeated/],
    ['client=a&since=1&since=2', '', /"since" is repeated/],
    ['client=%zz', '', /bad percent-encoding/],
  ];
  for (const [query, header, message] of rows) {
    const r = parseEventsQuery(query, header);
    t.notOk(r.ok, `${query} / ${header}`);
    if (!r.ok) t.match(r.message, message);
  }
});
