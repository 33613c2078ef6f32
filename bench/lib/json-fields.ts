// Reading fields of parsed JSON (loadgen results, stats replies) without `any`: each getter checks
// the type and names the field when it is wrong.
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objectField(o: JsonObject, key: string, where: string): JsonObject {
  const v = o[key];
  if (!isObject(v)) throw new Error(`${where}: "${key}" is not an object`);
  return v;
}

export function numberField(o: JsonObject, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" is not a number`);
  return v;
}

/** Every numeric field of `o` (non-numeric ones are left out). */
export function numberFields(o: JsonObject): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = v;
  return out;
}

export function parseObjectLine(line: string, where: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error(`${where}: not JSON: ${line.slice(0, 200)}`);
  }
  if (!isObject(v)) throw new Error(`${where}: not a JSON object: ${line.slice(0, 200)}`);
  return v;
}
