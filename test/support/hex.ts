/**
 * `hex` tagged template: spec bytes written as they appear in the spec, e.g.
 * hex`00 19 00 0A | 00 00 00 04`. White space, `|` and `#` comments to end of line are ignored.
 */
export function hex(strings: TemplateStringsArray, ...values: unknown[]): Uint8Array {
  const text = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const digits = text.replace(/#[^\n]*/g, '').replace(/[\s|]/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`hex literal has an odd digit count or a non-hex character: ${text}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Parses a plain hex string (no separators) into bytes. */
export function fromHex(digits: string): Uint8Array {
  return hex([digits] as unknown as TemplateStringsArray);
}
