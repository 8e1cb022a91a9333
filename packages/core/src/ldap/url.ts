/**
 * Whether a URL's authority has a user[:password]@ part. Its own module (no zod, no ldapts) because both
 * the config schema and the client check it: credentials in a URL would be printed wherever the URL is.
 */
export function hasUserinfo(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url);
}
