/**
 * Control characters (C0, DEL, C1) shown as \xNN: text from servers and users (an API error, a PR title) reaches
 * a terminal or log without moving the cursor, recolouring it or forging a line.
 */
export function escapeControlChars(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
