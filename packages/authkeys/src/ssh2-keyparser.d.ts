// `authkeys audit` (and the tests) ask ssh2's key parser for a second opinion; @types/ssh2 does not describe its deep path.
declare module "ssh2/lib/protocol/keyParser.js" {
  export interface ParsedKey {
    type: string;
    comment: string;
    getPublicSSH(): Buffer;
    isPrivateKey(): boolean;
  }
  const keyParser: { parseKey(data: string | Buffer): ParsedKey | ParsedKey[] | Error };
  export default keyParser;
}
