/**
 * RFC 7512 PKCS#11 URIs: the examples of RFC 7512 §3, percent-encoding, and
 * a typed error naming the attribute for every malformed part; the PIN never
 * shown.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parsePkcs11Uri, Pkcs11CredentialError } from '../src/index.js';
import { readPin } from '../src/uri.js';

describe('RFC 7512 §3 examples parse', () => {
  test.each([
    ['pkcs11:', {}],
    ['pkcs11:object=my-pubkey;type=public', { object: 'my-pubkey', type: 'public' }],
    ['pkcs11:object=my-key;type=private?pin-source=file:/etc/token', { object: 'my-key', type: 'private', pinSource: '/etc/token' }],
    [
      'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin',
      { token: 'The Software PKCS#11 Softtoken', manufacturer: 'Snake Oil, Inc.', model: '1.0', object: 'my-certificate', type: 'cert', serial: '', pinSource: '/etc/token_pin' },
    ],
    ['pkcs11:object=my-sign-key;type=private?module-name=mypkcs11', { object: 'my-sign-key', type: 'private', moduleName: 'mypkcs11' }],
    ['pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1', { object: 'my-sign-key', modulePath: '/mnt/libmypkcs11.so.1' }],
    ['pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin', { token: 'Software PKCS#11 softtoken' }],
    ['pkcs11:slot-description=Sun%20Metaslot', { slotDescription: 'Sun Metaslot' }],
    ['pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23', { libraryVersion: '1.23' }],
    ['pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert', { token: 'A name with a substring %;' }],
    ['pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert', { token: 'Name with a small A with acute: á' }],
    ['pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b'.replace(/vendor-/g, 'x-vendor-'), { token: 'my-token' }],
  ])('%s', (uri, expected) => {
    expect(parsePkcs11Uri(uri)).toMatchObject(expected);
  });

  test('id is bytes, slot-id a number', () => {
    const uri = parsePkcs11Uri('pkcs11:id=%69%95%3E%5C%F4%BD%EC%91;slot-id=610831685');
    expect(Buffer.from(uri.id!).toString('hex')).toBe('69953e5cf4bdec91');
    expect(uri.slotId).toBe(610831685n);
  });

  test('pin-source as a file: URI with an authority, and as a bare absolute path', () => {
    expect(parsePkcs11Uri('pkcs11:?pin-source=file:///run/secrets/pin').pinSource).toBe('/run/secrets/pin');
    expect(parsePkcs11Uri('pkcs11:?pin-source=/run/secrets/pin').pinSource).toBe('/run/secrets/pin');
  });
});

describe('a typed error, naming the attribute, for each malformed part', () => {
  test.each([
    ['https://token=x', 'scheme'],
    ['pkcs11:tokn=daemon;object=k', 'tokn'],
    ['pkcs11:token=daemon;object=k?modul-path=/x.so', 'modul-path'],
    ['pkcs11:token=daemon;module-path=/x.so', 'module-path'],
    ['pkcs11:token=daemon?object=k', 'object'],
    ['pkcs11:token=a;token=b', 'token'],
    ['pkcs11:token=a%2', 'token'],
    ['pkcs11:token=a%zz', 'token'],
    ['pkcs11:object=a/b', 'object'],
    ['pkcs11:object=a b', 'object'],
    ['pkcs11:token=%C3%28', 'token'],
    ['pkcs11:type=secret', 'type'],
    ['pkcs11:slot-id=0x10', 'slot-id'],
    ['pkcs11:token', 'path'],
    ['pkcs11:=x', 'path'],
    ['pkcs11:?pin-value', 'query'],
    ['pkcs11:token=a#frag', 'fragment'],
    ['pkcs11:?module-path=lib/x.so', 'module-path'],
    ['pkcs11:?pin-source=https://example.com/pin', 'pin-source'],
    ['pkcs11:?pin-source=file://remote-host/pin', 'pin-source'],
    ['pkcs11:?pin-value=1&pin-source=file:/p', 'pin-source'],
  ])('%s → %s', (uri, attribute) => {
    let error: unknown;
    try {
      parsePkcs11Uri(uri);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Pkcs11CredentialError);
    expect(error).toMatchObject({ code: 'ERR_PKCS11_URI', attribute });
  });
});

describe('the PIN is never shown', () => {
  const PIN = 'S3cret-PIN-0042';

  test('not in toString, toJSON, inspect, nor any error', () => {
    const uri = parsePkcs11Uri(`pkcs11:token=daemon;object=k?module-path=/x.so&pin-value=${PIN}`);
    expect(uri.hasPin).toBe(true);
    expect(String(uri)).toBe('pkcs11:token=daemon;object=k?module-path=/x.so');
    for (const shown of [String(uri), JSON.stringify(uri), JSON.stringify({ uri }), inspect(uri, { showHidden: true, depth: 9 })]) {
      expect(shown).not.toContain(PIN);
    }
    const errors: unknown[] = [];
    for (const bad of [`pkcs11:?pin-value=${PIN}%`, `pkcs11:?pin-value=${PIN}&pin-value=${PIN}`, `pkcs11:?pin-vlaue=${PIN}`, `pkcs11:?pin-value=${PIN} x`, `pkcs11:?pin-value=%FF${PIN}`]) {
      try {
        parsePkcs11Uri(bad);
      } catch (e) {
        errors.push(e);
      }
    }
    expect(errors).toHaveLength(5);
    const text = `${inspect(errors, { showHidden: true, depth: 9 })}${JSON.stringify(errors)}${errors.map(String).join()}`;
    expect(text).not.toContain(PIN);
  });

  test('readPin: pin-value, or the pin-source file without its line break', async () => {
    expect(await readPin(parsePkcs11Uri(`pkcs11:?pin-value=${encodeURIComponent('a&b;c')}`))).toBe('a&b;c');
    const dir = await mkdtemp(join(tmpdir(), 'x-pkcs11-uri-'));
    try {
      await writeFile(join(dir, 'pin'), `${PIN}\n`);
      const uri = parsePkcs11Uri(`pkcs11:?pin-source=file:${join(dir, 'pin')}`);
      expect(await readPin(uri)).toBe(PIN);
      expect('readPin' in uri).toBe(false);
      expect(inspect(uri) + JSON.stringify(uri)).not.toContain(PIN);
      await expect(readPin(parsePkcs11Uri(`pkcs11:?pin-source=file:${join(dir, 'absent')}`))).rejects.toMatchObject({ code: 'ERR_FILE_READ' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
