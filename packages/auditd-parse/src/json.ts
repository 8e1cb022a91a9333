/** A JSON string literal; the common case (plain ASCII/BMP text) skips JSON.stringify's call overhead. */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** Appends `"key":value` to a comma-separated member list. */
export function member(list: string, key: string, valueJson: string): string {
  return list.length === 0 ? `${jsonString(key)}:${valueJson}` : `${list},${jsonString(key)}:${valueJson}`;
}
