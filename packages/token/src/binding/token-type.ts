/**
 * Which token type a credential asks for, and whether an answer is bound as asked: RFC 9449 §5 (`DPoP`),
 * RFC 8705 §3 (a `Bearer` token carrying `cnf.x5t#S256`), Entra mTLS PoP (`mtls_pop`).
 *
 * @module
 */
import type { BindingOptions } from '../options.js';
import type { TokenResponse, TokenType } from '../response.js';

/** The `token_type` a credential with these options expects (also `TokenStoreKey.tokenType`). */
export function expectedTokenType(binding: BindingOptions): TokenType {
  if (binding.proofOfPossession === 'dpop') return 'DPoP';
  if (binding.proofOfPossession === 'mtls' && binding.entra) return 'mtls_pop';
  return 'Bearer';
}

/**
 * True when the answer is bound the way `binding` asked. For RFC 8705 the token type stays `Bearer`, so the
 * token's own `cnf.x5t#S256` decides when the token is a JWT; an opaque token is taken on the server's word
 * (only the resource can tell).
 */
export async function isBoundResponse(response: TokenResponse, binding: BindingOptions): Promise<boolean> {
  const expected = expectedTokenType(binding);
  if (expected !== 'Bearer') return response.tokenType === expected;
  if (binding.proofOfPossession !== 'mtls' || response.tokenType !== 'Bearer') return false;
  const { decodeJwt } = await import('jose'); // loaded on first use: only RFC 8705 bound tokens need it
  let cnf: unknown;
  try {
    cnf = decodeJwt(response.accessToken).cnf;
  } catch {
    return true;
  }
  return typeof (cnf as { 'x5t#S256'?: unknown } | undefined)?.['x5t#S256'] === 'string';
}
