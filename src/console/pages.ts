import { AUDIT_KINDS, encodeCursor } from '../audit/event.js';
import { formatDuration } from '../config/duration.js';
import type { ConsoleData } from './data.js';
import { type Html, html, iso } from './html.js';

function layout(title: string, body: Html, signedIn: boolean): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · workflow-identity</title>
<link rel="stylesheet" href="/console/style.css">
</head>
<body>
<header class="bar">
  <span class="brand">workflow-identity</span>
  <span class="muted">console (read-only)</span>
  ${
    signedIn
      ? html`<form method="post" action="/console/logout" class="logout"><button type="submit">Log out</button></form>`
      : ''
  }
</header>
<main>
${body}
</main>
</body>
</html>
`.text;
}

export function loginPage(error?: string): string {
  return layout(
    'Log in',
    html`<section class="card narrow">
  <h1>Log in</h1>
  <p class="muted">With the admin credential (<code>WFID_ADMIN_TOKEN</code>). Engine and request tokens do not open the console.</p>
  ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
  <form method="post" action="/console/login">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required minlength="32">
    <button type="submit">Log in</button>
  </form>
</section>`,
    false,
  );
}

const STATE_HELP: Record<string, string> = {
  pending: 'in the JWKS, not signing yet',
  active: 'signing',
  retiring: 'in the JWKS until its tokens expire',
  retired: 'out of the JWKS',
};

export function consolePage(data: ConsoleData): string {
  const { params } = data;
  const filterValue = (name: string) => params[name] ?? '';
  const kind = params.kind ?? 'token.minted';
  const olderLink = data.recent.next
    ? `/console?${new URLSearchParams({ ...params, cursor: encodeCursor(data.recent.next) })}`
    : undefined;
  return layout(
    'Console',
    html`<section class="card" id="health">
  <h2>Health</h2>
  <ul class="health">
    ${data.health.map(
      (item) =>
        html`<li class="${item.ready ? 'ok' : 'bad'}"><strong>${item.name}</strong> <span>${item.kind}</span> <span class="pill">${item.ready ? 'ready' : 'not ready'}</span> ${item.detail ? html`<span class="muted">${item.detail}</span>` : ''}</li>`,
    )}
  </ul>
</section>

<section class="card" id="keys">
  <h2>Signing keys</h2>
  <div class="scroll"><table>
    <thead><tr><th>state</th><th>kid</th><th>alg</th><th>published</th><th>activated</th><th>activates / retires</th><th>backend ref</th></tr></thead>
    <tbody>
    ${data.keys.map(
      (key) =>
        html`<tr class="key-${key.state}" data-kid="${key.kid}"><td><span class="state state-${key.state}" title="${STATE_HELP[key.state] ?? ''}">${key.state}</span></td><td><code>${key.kid}</code></td><td>${key.alg}</td><td>${iso(key.record?.publishedAt)}</td><td>${iso(key.record?.activatedAt)}</td><td>${key.activatesAt ? html`activates ${iso(key.activatesAt)}` : key.retiresAt ? html`retires ${iso(key.retiresAt)}` : iso(key.record?.retiredAt)}</td><td class="ref">${key.ref}</td></tr>`,
    )}
    </tbody>
  </table></div>
  <h3>Rotation timeline</h3>
  <p id="next-rotation">Next rotation: <strong>${
    data.nextRotation === undefined
      ? 'not scheduled (rotation.every is off; versions are added by hand or by the security team)'
      : iso(data.nextRotation)
  }</strong>${data.rotationEvery === undefined ? '' : html` <span class="muted">(every ${formatDuration(data.rotationEvery)})</span>`}</p>
  <ol class="timeline">
    ${data.timeline.map(
      (entry) =>
        html`<li class="${entry.planned ? 'planned' : ''} what-${entry.what}"><time datetime="${new Date(entry.time).toISOString()}">${iso(entry.time)}</time> <code>${entry.kid.slice(0, 12)}…</code> ${entry.what}${entry.planned ? ' (scheduled)' : ''}</li>`,
    )}
  </ol>
</section>

<section class="card" id="running">
  <h2>Running executions</h2>
  ${
    data.running.length === 0
      ? html`<p class="muted">No execution registered in the last ${formatDuration(data.runningWindowMs)} is still running.</p>`
      : html`<div class="scroll"><table>
    <thead><tr><th>execution</th><th>workflow</th><th>started</th><th>deadline</th></tr></thead>
    <tbody>${data.running.map(
      (run) =>
        html`<tr><td>${run.executionId}</td><td><a href="/console?${new URLSearchParams({ workflow_id: run.workflowId })}">${run.workflowId}</a></td><td>${iso(run.startedAt)}</td><td>${iso(run.deadline)}</td></tr>`,
    )}</tbody></table></div>`
  }
</section>

<section class="card split" id="counts">
  <div>
    <h2>Tokens per workflow</h2>
    <p class="muted">Last 24 h (${data.counts.scanned} mints read)</p>
    ${countTable('workflow', data.counts.workflows, 'workflow_id')}
  </div>
  <div>
    <h2>Tokens per audience</h2>
    <p class="muted">Last 24 h</p>
    ${countTable('audience', data.counts.audiences, 'audience')}
  </div>
</section>

<section class="card" id="events">
  <h2>Recent events</h2>
  <form method="get" action="/console" class="filters">
    <label>kind <select name="kind">
      <option value=""${kind === '' ? html` selected` : ''}>any</option>
      ${AUDIT_KINDS.map((item) => html`<option value="${item}"${item === kind ? html` selected` : ''}>${item}</option>`)}
    </select></label>
    <label>workflow <input name="workflow_id" value="${filterValue('workflow_id')}"></label>
    <label>execution <input name="execution_id" value="${filterValue('execution_id')}"></label>
    <label>audience <input name="audience" value="${filterValue('audience')}"></label>
    <label>kid <input name="kid" value="${filterValue('kid')}"></label>
    <label>since <input name="since" value="${filterValue('since')}" placeholder="24h or ISO time"></label>
    <label>until <input name="until" value="${filterValue('until')}" placeholder="ISO time"></label>
    <button type="submit">Filter</button>
  </form>
  ${data.recent.error ? html`<p class="error" role="alert">${data.recent.error}</p>` : ''}
  <div class="scroll"><table id="event-table">
    <thead><tr><th>time</th><th>kind</th><th>outcome</th><th>workflow</th><th>execution</th><th>audience</th><th>kid</th><th>jti</th><th>reason</th></tr></thead>
    <tbody>
    ${data.recent.events.map(
      (event) =>
        html`<tr><td>${iso(event.time)}</td><td>${event.kind}</td><td>${event.outcome}</td><td>${event.workflow_id ?? '—'}</td><td>${event.execution_id ?? '—'}</td><td>${event.audience ?? '—'}</td><td><code>${event.kid ? `${event.kid.slice(0, 12)}…` : '—'}</code></td><td><code>${event.jti ?? '—'}</code></td><td>${event.reason ?? ''}</td></tr>`,
    )}
    </tbody>
  </table></div>
  ${data.recent.events.length === 0 && !data.recent.error ? html`<p class="muted">No events match.</p>` : ''}
  ${olderLink ? html`<p><a href="${olderLink}">Older events →</a></p>` : ''}
</section>`,
    true,
  );
}

function countTable(what: string, rows: [string, number][], param: string): Html | string {
  if (rows.length === 0) return html`<p class="muted">No tokens minted.</p>`;
  return html`<div class="scroll"><table class="counts"><thead><tr><th>${what}</th><th class="num">tokens</th></tr></thead><tbody>${rows.map(
    ([name, count]) =>
      html`<tr><td><a href="/console?${new URLSearchParams({ [param]: name })}">${name}</a></td><td class="num">${count}</td></tr>`,
  )}</tbody></table></div>`;
}
