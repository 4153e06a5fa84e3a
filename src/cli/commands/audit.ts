import type { Command } from 'commander';
import { encodeCursor } from '../../audit/event.js';
import type { AuditEventView } from '../../audit/query.js';
import { WfidError } from '../../errors.js';
import { configOf, print } from '../common.js';

interface AuditOptions {
  url?: string;
  executionId?: string;
  workflowId?: string;
  audience?: string;
  kid?: string;
  kind?: string;
  since?: string;
  until?: string;
  json?: boolean;
  follow?: boolean;
  interval: number;
}

const COLUMNS: [title: string, field: keyof AuditEventView, width: number][] = [
  ['TIME', 'time', 24],
  ['KIND', 'kind', 20],
  ['OUTCOME', 'outcome', 15],
  ['ENGINE', 'engine', 8],
  ['WORKFLOW', 'workflow_id', 20],
  ['EXECUTION', 'execution_id', 20],
  ['AUDIENCE', 'audience', 24],
  ['KID', 'kid', 12],
  ['REASON', 'reason', 0],
];

/** One line per event; fixed widths so that followed events line up with the header. */
function row(cells: string[]): string {
  return cells
    .map((cell, index) => cell.padEnd(COLUMNS[index]![2]))
    .join(' ')
    .trimEnd();
}

export function auditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      'read the audit trail of a running issuer (GET /v1/audit with WFID_ADMIN_TOKEN): a table, or JSON lines for a SIEM',
    )
    .option('--url <url>', 'issuer base URL (default: issuer from config)')
    .option('--execution-id <id>')
    .option('--workflow-id <id>')
    .option('--audience <audience>')
    .option('--kid <kid>')
    .option('--kind <kind>', 'e.g. token.minted, request.refused, key.activated')
    .option(
      '--since <time>',
      'ISO 8601 time or a duration ago (15m, 24h); with --follow, default now',
    )
    .option('--until <time>', 'ISO 8601 time or a duration ago')
    .option('--json', 'one JSON object per line')
    .option('-f, --follow', 'keep printing new events as they are recorded')
    .option('--interval <seconds>', 'how often --follow asks for new events', Number, 2)
    .action(async (options: AuditOptions, command: Command) => {
      const config = configOf(command);
      const token = config.admin_token;
      if (!token)
        throw new WfidError(
          'ERR_CONFIG',
          'no admin token: set WFID_ADMIN_TOKEN or WFID_ADMIN_TOKEN_FILE',
        );
      const base = (options.url ?? config.issuer).replace(/\/$/, '');
      const filters: Record<string, string | undefined> = {
        execution_id: options.executionId,
        workflow_id: options.workflowId,
        audience: options.audience,
        kid: options.kid,
        kind: options.kind,
        since: options.since ?? (options.follow ? new Date().toISOString() : undefined),
        until: options.until,
      };
      const show = (event: AuditEventView) =>
        print(
          options.json
            ? JSON.stringify(event)
            : row(COLUMNS.map(([, field]) => String(event[field] ?? '-'))),
        );
      if (!options.json) print(row(COLUMNS.map(([title]) => title)));
      let cursor: string | undefined;
      for (;;) {
        const page = await fetchPage(base, token, { ...filters, cursor, limit: '1000' });
        for (const event of page.events) show(event);
        // Continue after the last event seen, also once the trail is caught up (follow).
        const last = page.events.at(-1);
        cursor = page.next ?? (last ? encodeCursor(last.id) : cursor);
        if (page.next) continue;
        if (!options.follow) return;
        await new Promise((resolve) => setTimeout(resolve, options.interval * 1000));
      }
    });
}

async function fetchPage(
  base: string,
  token: string,
  query: Record<string, string | undefined>,
): Promise<{ events: AuditEventView[]; next: string | null }> {
  const params = new URLSearchParams(
    Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const response = await fetch(`${base}/v1/audit?${params}`, {
    headers: { authorization: `Bearer ${token}` },
  }).catch((err: Error) => {
    throw new WfidError(
      'ERR_BACKEND_UNAVAILABLE',
      `cannot reach the issuer at ${base}: ${err.message}`,
    );
  });
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new WfidError(
      response.status === 401 || response.status === 403
        ? 'ERR_UNAUTHORIZED'
        : 'ERR_INVALID_REQUEST',
      `${response.status} ${answer.error ?? ''}: ${answer.error_description ?? ''}`,
    );
  }
  return answer as { events: AuditEventView[]; next: string | null };
}
