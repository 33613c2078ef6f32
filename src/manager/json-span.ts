// The raw text of top-level members of a JSON object, as it stands in the line.
//
// `data` must reach subscribers byte for byte as the app wrote it, and `ref`
// must come back verbatim: JSON.parse + JSON.stringify would turn
// 12345678901234567890 into 12345678901234567000 and 1e400 into null. So after
// JSON.parse has validated the line, this scanner walks the top-level object
// once more and slices out the values' text. It trusts its input to be valid
// JSON (call it only on text JSON.parse accepted), which keeps it small: no
// error paths, strings skipped by jumping from quote to quote.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** `i` is at an opening quote; returns the index after the closing one. */
function skipString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return text.length; // unterminated: not valid JSON, never passed in
    // An odd run of backslashes before the quote escapes it.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

/** `i` is at the first character of a value; returns the index after its last. */
function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return skipString(text, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i = skipString(text, i);
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // A number, true, false or null: runs until a delimiter.
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWhitespace(c)) break;
    i++;
  }
  return i;
}

/**
 * For each name in `names` that is a member of the top-level object `text`
 * (valid JSON whose value is an object), its value's raw text; like JSON.parse,
 * the last of duplicate members wins, and keys are compared after unescaping
 * ("d\u0061ta" is "data").
 */
export function rawMembers(text: string, names: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  let i = skipWhitespace(text, 0) + 1; // past '{'
  for (;;) {
    i = skipWhitespace(text, i);
    if (text.charCodeAt(i) !== QUOTE) return found; // '}' of an empty object
    const keyStart = i;
    i = skipString(text, i);
    const rawKey = text.slice(keyStart + 1, i - 1);
    const key = rawKey.includes('\\') ? (JSON.parse(text.slice(keyStart, i)) as string) : rawKey;
    i = skipWhitespace(text, i) + 1; // past ':'
    i = skipWhitespace(text, i);
    const valueStart = i;
    i = skipValue(text, i);
    if (names.has(key)) found.set(key, text.slice(valueStart, i));
    i = skipWhitespace(text, i);
    if (text.charCodeAt(i) !== COMMA) return found;
    i++;
  }
}
