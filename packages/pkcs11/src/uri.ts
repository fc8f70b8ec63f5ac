/**
 * RFC 7512 PKCS#11 URIs: `pkcs11:` path attributes (`;`-separated) naming a
 * token and an object, then `?` query attributes (`&`-separated) saying how
 * to reach it (module, PIN). Parsed strictly: an unknown attribute, a repeated
 * one, a character outside the RFC's grammar or a bad `%XX` is an error that
 * names the attribute — never its value, since one of them is the PIN.
 *
 * @module
 */
import { readCredentialFile } from '@x/assertion';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pkcs11CredentialError } from './errors.js';

/** `type=` values (RFC 7512 §2.3). */
export type Pkcs11ObjectType = 'public' | 'private' | 'cert' | 'secret-key' | 'data';

const PATH_ATTRIBUTES = [
  'token', 'manufacturer', 'serial', 'model', 'library-manufacturer', 'library-description', 'library-version',
  'object', 'type', 'id', 'slot-manufacturer', 'slot-description', 'slot-id',
] as const;
const QUERY_ATTRIBUTES = ['pin-source', 'pin-value', 'module-name', 'module-path'] as const;
const OBJECT_TYPES: readonly string[] = ['public', 'private', 'cert', 'secret-key', 'data'];

// RFC 7512 §2.3: pk11-pchar = unreserved / pk11-path-res-avail / pct-encoded (no ";" "?" "/" "#" "%" unescaped);
// pk11-qchar = unreserved / pk11-query-res-avail / pct-encoded (no "&" "#" "%" unescaped).
const PATH_VALUE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=&]|%[0-9A-Fa-f]{2})*$/;
const QUERY_VALUE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|]|%[0-9A-Fa-f]{2})*$/;

const malformed = (attribute: string, what: string) =>
  new Pkcs11CredentialError('ERR_PKCS11_URI', `Malformed PKCS#11 URI (RFC 7512): ${what}.`, { attribute });

/** `%XX` sequences to bytes; the grammar check has already refused a lone `%`. */
function percentDecode(value: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '%') {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(value.charCodeAt(i));
    }
  }
  return Uint8Array.from(bytes);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(attribute: string, value: string): string {
  try {
    return UTF8.decode(percentDecode(value));
  } catch {
    throw malformed(attribute, `the value of "${attribute}" is not UTF-8 after percent-decoding`);
  }
}

/**
 * A parsed PKCS#11 URI. Attribute values are percent-decoded; `id` is bytes.
 * The PIN (`pin-value`, or the file named by `pin-source`) is not a member:
 * `toString`, `toJSON` and `util.inspect` never show it, and only this
 * package reads it (`readPin`, not exported), to log in.
 */
export class Pkcs11Uri {
  /** Token label (`CK_TOKEN_INFO.label`). */
  declare readonly token?: string;
  declare readonly manufacturer?: string;
  /** Token serial number (`CK_TOKEN_INFO.serialNumber`). */
  declare readonly serial?: string;
  declare readonly model?: string;
  declare readonly libraryManufacturer?: string;
  declare readonly libraryDescription?: string;
  declare readonly libraryVersion?: string;
  /** Object label (`CKA_LABEL`). */
  declare readonly object?: string;
  declare readonly type?: Pkcs11ObjectType;
  /** Object id (`CKA_ID`), bytes. */
  declare readonly id?: Uint8Array;
  declare readonly slotManufacturer?: string;
  declare readonly slotDescription?: string;
  /** Slot id (`CK_SLOT_ID`), a decimal number in the URI. */
  declare readonly slotId?: bigint;
  /** Absolute path of the PKCS#11 module (shared library). */
  declare readonly modulePath?: string;
  declare readonly moduleName?: string;
  /** The file named by `pin-source=file:…`, when given. */
  declare readonly pinSource?: string;
  readonly #canonical: string;

  /** @internal use {@link parsePkcs11Uri} */
  constructor(fields: Record<string, unknown>, pinValue: string | undefined, canonical: string) {
    Object.assign(this, fields);
    if (pinValue !== undefined) PIN_VALUES.set(this, pinValue);
    this.#canonical = canonical;
    Object.freeze(this);
  }

  /** Whether the URI carries a PIN (`pin-value` or `pin-source`). */
  get hasPin(): boolean {
    return PIN_VALUES.has(this) || this.pinSource !== undefined;
  }

  /** The URI as given, with `pin-value` left out. */
  toString(): string {
    return this.#canonical;
  }

  toJSON(): string {
    return this.#canonical;
  }
}

/** `pin-value`s, outside the objects so that nothing holding a {@link Pkcs11Uri} can read them. */
const PIN_VALUES = new WeakMap<Pkcs11Uri, string>();

/**
 * The PIN of a URI: `pin-value`, or the content of the `pin-source` file
 * without a trailing line break; `undefined` when the URI has neither.
 * Internal to this package.
 *
 * @throws `CredentialError` `ERR_FILE_READ` when the `pin-source` file cannot be read (`readCredentialFile`)
 */
export async function readPin(uri: Pkcs11Uri): Promise<string | undefined> {
  if (uri.pinSource === undefined) return PIN_VALUES.get(uri);
  return Buffer.from(await readCredentialFile(uri.pinSource)).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Parse a PKCS#11 URI (RFC 7512 §2.3) strictly.
 *
 * Accepted: the path attributes `token manufacturer serial model
 * library-manufacturer library-description library-version object type id
 * slot-manufacturer slot-description slot-id` and the query attributes
 * `module-path module-name pin-value pin-source` (`pin-source` as a `file:`
 * URI or an absolute path), plus vendor `x-…` attributes, which are ignored.
 *
 * @param uri - e.g. `pkcs11:token=daemon;object=client-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin`
 * @throws {@link Pkcs11CredentialError} `ERR_PKCS11_URI` with `attribute` naming the malformed part:
 *   `scheme` (not `pkcs11:`), an unknown or repeated attribute name, a character outside the grammar or a
 *   bad `%XX`, a `type` other than the five of the RFC, a non-decimal `slot-id`, both `pin-value` and
 *   `pin-source`, a `pin-source` that is not a local file, a relative `module-path`
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (typeof uri !== 'string' || !/^pkcs11:/i.test(uri)) throw malformed('scheme', 'it must start with "pkcs11:"');
  const rest = uri.slice('pkcs11:'.length);
  if (rest.includes('#')) throw malformed('fragment', 'a fragment ("#") is not allowed');
  const queryAt = rest.indexOf('?');
  const path = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? undefined : rest.slice(queryAt + 1);

  const fields: Record<string, unknown> = {};
  const seen = new Set<string>();
  let pinValue: string | undefined;
  const kept: { path: string[]; query: string[] } = { path: [], query: [] };

  const attributes = (part: 'path' | 'query', text: string, separator: string, names: readonly string[], grammar: RegExp) => {
    if (text === '') return;
    for (const attribute of text.split(separator)) {
      const equals = attribute.indexOf('=');
      if (equals <= 0) throw malformed(part, `every ${part} attribute must be "name=value"`);
      const name = attribute.slice(0, equals).toLowerCase();
      const value = attribute.slice(equals + 1);
      if (!names.includes(name) && !name.startsWith('x-')) {
        const other = part === 'path' ? QUERY_ATTRIBUTES : PATH_ATTRIBUTES;
        const hint = other.includes(name as never) ? ` (it belongs in the ${part === 'path' ? 'query, after "?"' : 'path, before "?"'})` : '';
        throw malformed(name, `unknown ${part} attribute "${name}"${hint}; RFC 7512 defines ${names.join(', ')}`);
      }
      if (seen.has(name)) throw malformed(name, `"${name}" appears more than once`);
      seen.add(name);
      if (!grammar.test(value)) throw malformed(name, `the value of "${name}" has a character that must be percent-encoded, or a bad %XX`);
      if (name !== 'pin-value') kept[part].push(attribute);
      if (name.startsWith('x-')) continue;
      const key = name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      if (name === 'id') fields.id = percentDecode(value);
      else if (name === 'pin-value') pinValue = decodeText(name, value);
      else fields[key] = decodeText(name, value);
    }
  };
  attributes('path', path, ';', PATH_ATTRIBUTES, PATH_VALUE);
  if (query !== undefined) attributes('query', query, '&', QUERY_ATTRIBUTES, QUERY_VALUE);

  if (fields.type !== undefined && !OBJECT_TYPES.includes(fields.type as string)) {
    throw malformed('type', `"type" must be one of ${OBJECT_TYPES.join(', ')}`);
  }
  if (fields.slotId !== undefined) {
    if (!/^[0-9]{1,20}$/.test(fields.slotId as string)) throw malformed('slot-id', '"slot-id" must be a decimal number');
    fields.slotId = BigInt(fields.slotId as string);
  }
  if (fields.modulePath !== undefined && !isAbsolute(fields.modulePath as string)) {
    throw malformed('module-path', '"module-path" must be an absolute path');
  }
  if (fields.pinSource !== undefined) {
    if (pinValue !== undefined) throw malformed('pin-source', 'give "pin-value" or "pin-source", not both');
    fields.pinSource = pinSourcePath(fields.pinSource as string);
  }
  const canonical = `pkcs11:${kept.path.join(';')}${kept.query.length > 0 ? `?${kept.query.join('&')}` : ''}`;
  return new Pkcs11Uri(fields, pinValue, canonical);
}

/** `pin-source` (RFC 7512 §2.3): a URI; this package reads local files only (`file:/…`, `file:///…` or `/…`). */
function pinSourcePath(source: string): string {
  if (source.startsWith('/')) return source;
  if (/^file:/i.test(source)) {
    try {
      return fileURLToPath(source.replace(/^file:(?!\/\/)/i, 'file://'));
    } catch {
      // fall through to the error below
    }
  }
  throw malformed('pin-source', '"pin-source" must be a local file ("file:/path" or an absolute path)');
}
