// JSONP framing (PROTOCOL.md section 1). The callback name has been validated
// by poll-query.ts before it gets here.

const LINE_SEPARATORS = /[\u2028\u2029]/g;

function escapeSeparator(ch: string): string {
  return ch === '\u2028' ? '\\u2028' : '\\u2029';
}

/**
 * Wraps a JSON text as `/**\/FN(json);`. U+2028 and U+2029 can only stand
 * inside JSON strings, where the escapes mean the same characters; older
 * JavaScript engines would end a string literal at the raw ones.
 * The leading comment defuses the Rosetta-Flash style of content sniffing.
 */
export function wrapJsonp(callback: string, json: string): string {
  return `/**/${callback}(${json.replace(LINE_SEPARATORS, escapeSeparator)});`;
}
