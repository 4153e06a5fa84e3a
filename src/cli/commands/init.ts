import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { WfidError } from '../../errors.js';
import { print } from '../common.js';

const STARTER = `# workflow-identity issuer configuration. Every key can be overridden by an environment
# variable: nested keys joined by _, upper-cased, prefixed WFID_ (tokens.lifetime -> WFID_TOKENS_LIFETIME).

# The iss claim and base URL of discovery: the URL verifiers reach this issuer at.
issuer: http://127.0.0.1:8080
host: 127.0.0.1
port: 8080
data_dir: ./data

# Key URI selecting the backend: file://./data/keys, awskms:///alias/wfid,
# gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, hashivault://wfid,
# pkcs11:token=wfid;object=wfid-signing?module-path=...&pin-source=file:...
keys:
  uri: file://./data/keys
  refresh: 1m            # how often versions made or disabled outside are picked up
alg: ES256               # ES256 | ES384 | RS256 | PS256 | EdDSA, for keys the issuer creates

# sqlite:<path> (default), postgres://..., redis://...
store: sqlite:./data/wfid.db

# Engine credentials: never literals here. Tokens are at least 32 characters, one per
# variable or file. The default engine: WFID_ENGINE_TOKEN, WFID_ENGINE_TOKEN_FILE, or entries
# "file:/run/secrets/engine-token" / "env:NAME". Without any credential, one is generated
# into <data_dir>/engine-token.
# engine_tokens: ["file:/run/secrets/engine-token"]
# Named engines: each is its own namespace of executions, its name the engine claim; the
# claims it fixes (environment, instance) cannot be set by its requests.
# With several engines, tokens.subject must tell them apart (workflow ids are unique per engine
# only): {engine} between separators, e.g. subject: "engine:{engine}:workflow:{workflow_id}",
# or claims each engine fixes to values of its own.
# engines:
#   - {name: n8n-prod, token: "file:/run/secrets/n8n-prod-token", environment: prod}

tokens:
  lifetime: 10m
  max_lifetime: 1h
  subject: "workflow:{workflow_id}"
  rate_limit: 60         # tokens per minute per execution; 0 = no limit
  # default_audience: https://sts.amazonaws.com   # audience of WORKFLOW_ID_TOKEN (default: issuer)
  # audiences: [https://sts.amazonaws.com, vault]  # allowlist of requestable audiences
  # extra_claims: [team]                           # engine-supplied claims allowed in tokens

executions:
  max_duration: 24h      # deadline for executions registered without max_duration_s

jwks:
  max_age: 10m           # Cache-Control max-age of the JWKS

status_list:             # Token Status Lists: liveness verifiers check offline (docs/status-list.md)
  ttl: 30s               # how long verifiers cache a list: an end reaches them within this + 1s
  lifetime: 5m           # exp of a list: how long verifiers use one while the issuer is unreachable
  size: 65536            # entries per list; a full list is followed by a new one

rotation:
  # every: 30d           # rotate the signing key (off when absent)
  prepublish: 24h        # a new key is in the JWKS this long before it signs
  disable_retired: false # disable retired versions in the backend (never destroys them)

# The audit trail, kept in the store. The admin credential that reads it (GET /v1/audit,
# wfid audit, /console) comes from WFID_ADMIN_TOKEN or WFID_ADMIN_TOKEN_FILE, never from here.
audit:
  retention: 30d         # events older than this are deleted
  flush_interval: 1s     # events are written in batches at least this often
`;

export function initCommand(program: Command): void {
  program
    .command('init')
    .description('write a commented starter wfid.yaml')
    .option('-o, --output <file>', 'where to write it', 'wfid.yaml')
    .option('-f, --force', 'overwrite an existing file')
    .action(async (options: { output: string; force?: boolean }) => {
      try {
        await writeFile(options.output, STARTER, { flag: options.force ? 'w' : 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new WfidError(
            'ERR_CONFIG',
            `${options.output} exists; use --force to overwrite it`,
          );
        }
        throw err;
      }
      print(`wrote ${options.output}`);
    });
}
