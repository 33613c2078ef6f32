// Raw HTTP fixtures live in test/fixtures/*.http, written with plain LF line
// ends so editors and git cannot mangle them; every LF becomes CRLF on load, so
// what goes on the wire is exactly the HTTP/1.1 framing the file shows.
import { readFileSync } from 'node:fs';

export function loadFixture(name: string): Buffer {
  const text = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'latin1');
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}
