import { describe, expect, test } from 'vitest';
import { adminConsentUrl, parseAdminConsentCallback } from '../src/admin-consent.js'; // published as @x/token/admin-consent
import {
  AzureAuthorityHosts,
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  entraTokenEndpoint,
  scopeToResource,
  TokenRequestError,
} from '@x/token';

describe('Entra endpoints', () => {
  test('v2 and v1 token endpoints, default and other clouds', () => {
    expect(entraTokenEndpoint('contoso.onmicrosoft.com')).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
    expect(entraTokenEndpoint('t1', 'https://login.microsoftonline.com', 'v1')).toBe('https://login.microsoftonline.com/t1/oauth2/token');
    expect(entraTokenEndpoint('t1', `${AzureAuthorityHosts.AzureGovernment}/`)).toBe('https://login.microsoftonline.us/t1/oauth2/v2.0/token');
  });

  test('v1 resource from a .default scope (Azure CLI convention)', () => {
    expect(scopeToResource('https://management.core.windows.net//.default')).toBe('https://management.core.windows.net/');
    expect(scopeToResource('https://graph.microsoft.com/.default')).toBe('https://graph.microsoft.com');
    expect(scopeToResource('https://vault.azure.net')).toBe('https://vault.azure.net');
  });
});

describe('admin consent', () => {
  test('the URL of the v2 documentation', () => {
    const url = new URL(adminConsentUrl({ tenantId: 'common', clientId: 'app-id', state: '12345', redirectUri: 'http://localhost/myapp/permissions' }));
    expect(url.origin + url.pathname).toBe('https://login.microsoftonline.com/common/adminconsent');
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: 'app-id', state: '12345', redirect_uri: 'http://localhost/myapp/permissions' });
  });

  test('a granted callback', () => {
    const result = parseAdminConsentCallback('http://localhost/myapp/permissions?tenant=a8990e1f-ff32-408a-9f8e-78d3b9139b95&state=12345&admin_consent=True', '12345');
    expect(result).toEqual({ granted: true, tenant: 'a8990e1f-ff32-408a-9f8e-78d3b9139b95', state: '12345' });
  });

  test('a refusal', () => {
    const result = parseAdminConsentCallback('http://localhost/myapp/permissions?error=permission_denied&error_description=The+admin+canceled+the+request', '12345');
    expect(result).toEqual({ granted: false, error: 'permission_denied', errorDescription: 'The admin canceled the request' });
  });

  test('a foreign or missing state, or no answer at all', () => {
    const code = (url: string) => {
      try {
        parseAdminConsentCallback(url, '12345');
      } catch (e) {
        return (e as TokenRequestError).code;
      }
    };
    expect(code('http://localhost/cb?tenant=t&state=666&admin_consent=True')).toBe('ERR_STATE_MISMATCH');
    expect(code('http://localhost/cb?tenant=t&admin_consent=True')).toBe('ERR_STATE_MISMATCH');
    expect(code('http://localhost/cb?state=12345')).toBe('ERR_UNEXPECTED_RESPONSE');
  });
});

describe('constructor validation: ERR_INVALID_OPTIONS, never the value', () => {
  const construct = (f: () => unknown): TokenRequestError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(TokenRequestError);
      expect((e as TokenRequestError).code).toBe('ERR_INVALID_OPTIONS');
      return e as TokenRequestError;
    }
    throw new Error('expected ERR_INVALID_OPTIONS');
  };
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  test('http: only to loopback; no credentials in URLs', () => {
    expect(construct(() => new ClientCertificateCredential('t', 'app', pem, { tokenEndpoint: 'http://example.com/token' })).message).toMatch(/https:/);
    construct(() => new ClientCertificateCredential('t', 'app', pem, { authorityHost: 'http://login.example' }));
    construct(() => new ClientCertificateCredential('t', 'app', pem, { issuer: 'https://user:pw@idp.example' }));
    construct(() => new ClientCertificateCredential('t', 'app', pem, { tokenEndpoint: 'token' }));
    for (const ok of ['http://127.0.0.1:8080/token', 'http://localhost/token', 'http://[::1]:1/token', 'https://idp.example/token']) {
      expect(() => new ClientCertificateCredential('t', 'app', pem, { tokenEndpoint: ok })).not.toThrow();
    }
  });

  test('tenants that cannot issue app-only tokens; bad ids', () => {
    construct(() => new ClientCertificateCredential('common', 'app', pem));
    construct(() => new ClientCertificateCredential('organizations', 'app', pem));
    construct(() => new ClientCertificateCredential('a/b', 'app', pem));
    construct(() => new ClientCertificateCredential('t', '', pem));
  });

  test('one endpoint source; unknown options; passphrase and its @azure/identity name certificatePassword, not both', () => {
    construct(() => new ClientCertificateCredential('t', 'app', pem, { tokenEndpoint: 'https://a.example/t', issuer: 'https://a.example' }));
    construct(() => new ClientCertificateCredential('t', 'app', pem, { retry: { maxAttempts: 0 } }));
    construct(() => new ClientCertificateCredential('t', 'app', pem, { timeoutms: 5 } as never));
    const e = construct(
      () => new ClientCertificateCredential('t', 'app', { certificatePath: '/x.pem', passphrase: 'hunter2', certificatePassword: 'hunter2' }),
    );
    expect(e.message).toContain('give one of passphrase, certificatePassword');
    expect(e.message).not.toContain('hunter2');
  });

  test('the other credentials', () => {
    construct(() => new ClientSecretCredential('t', 'app', ''));
    construct(() => new ClientAssertionCredential('t', 'app', 'not a function' as never));
  });
});
