import { describe, expect, it } from 'vitest';
import { html } from '../../src/console/html.js';
import { ConsoleSessions, cookieValue, SESSION_MS } from '../../src/console/session.js';

const ADMIN = 'a'.repeat(40);

describe('console HTML', () => {
  it('escapes every interpolated value, in text and in quoted attributes', () => {
    const hostile = `"><script>alert('x')</script>&`;
    expect(html`<p title="${hostile}">${hostile}</p>`.text).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>',
    );
    expect(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>ok</li></ul>');
  });
});

describe('console sessions', () => {
  it('accepts its own cookie until it expires, and never carries the admin token', () => {
    let now = 1_800_000_000_000;
    const sessions = new ConsoleSessions(ADMIN, () => now);
    const { value } = sessions.issue();
    expect(value).not.toContain(ADMIN);
    expect(sessions.verify(value)).toBeDefined();
    now += SESSION_MS;
    expect(sessions.verify(value)).toBeUndefined();
  });

  it('refuses tampered cookies, cookies signed for another admin token, and logged-out ones', () => {
    const sessions = new ConsoleSessions(ADMIN);
    const { value } = sessions.issue();
    const [expires, nonce, signature] = value.split('.');
    expect(sessions.verify(`${Number(expires) + 3600}.${nonce}.${signature}`)).toBeUndefined();
    expect(sessions.verify(`${expires}.other.${signature}`)).toBeUndefined();
    expect(sessions.verify(`${value}.extra`)).toBeUndefined();
    expect(sessions.verify(undefined)).toBeUndefined();
    expect(new ConsoleSessions('b'.repeat(40)).verify(value)).toBeUndefined();
    sessions.revoke(value);
    expect(sessions.verify(value)).toBeUndefined();
  });

  it('reads one cookie from a Cookie header', () => {
    expect(cookieValue('a=1; wfid_console=x.y.z; b=2', 'wfid_console')).toBe('x.y.z');
    expect(cookieValue(undefined, 'wfid_console')).toBeUndefined();
  });
});
