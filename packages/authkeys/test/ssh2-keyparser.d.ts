// The tests compare our key reader with ssh2's parser; @types/ssh2 does not describe its deep path.
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
