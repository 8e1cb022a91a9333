// Only ssh2's key parser is loaded (not the whole SSH stack); @types/ssh2 does not describe the deep path.
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
