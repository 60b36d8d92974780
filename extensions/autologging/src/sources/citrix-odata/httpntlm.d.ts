/**
 * Types for the NTLM message functions of the `httpntlm` package (its `ntlm.js`), which ships
 * none. Only what this source calls is declared.
 */
declare module 'httpntlm/ntlm.js' {
  /** A parsed type 2 (challenge) message; opaque here, passed back to `createType3Message`. */
  export interface Type2Message {
    type: number;
    negotiateFlags: number;
  }

  export interface NtlmCredentials {
    username: string;
    password: string;
    domain: string;
    workstation: string;
  }

  /** `NTLM <base64>`: the negotiate message that opens the handshake. */
  export function createType1Message(options: { domain: string; workstation: string }): string;
  /** Reads `NTLM <base64>` from a WWW-Authenticate value; null (and `callback` told) if absent. */
  export function parseType2Message(
    header: string,
    callback: (error: Error) => void,
  ): Type2Message | null;
  /** `NTLM <base64>`: the authenticate message answering the challenge (NTLMv2 when offered). */
  export function createType3Message(challenge: Type2Message, options: NtlmCredentials): string;

  const ntlm: {
    createType1Message: typeof createType1Message;
    parseType2Message: typeof parseType2Message;
    createType3Message: typeof createType3Message;
  };
  export default ntlm;
}
