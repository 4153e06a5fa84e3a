/**
 * `npm run bench` (`-- --json` for one JSON object). Every figure that has a target is a ratio
 * against a baseline measured in the same run, because this machine is shared and noisy.
 * `-- --only mint,http` runs a subset.
 */
import { benchAudit } from './audit.js';
import { benchAwsKms } from './aws-kms.js';
import { benchHttp, benchHttpStores } from './http.js';
import { benchMint } from './mint.js';
import { benchOpenBaoOidc } from './openbao-oidc.js';
import { benchPkcs11 } from './pkcs11.js';
import { benchRegistration } from './registration.js';
import { benchRegistrationStores } from './registration-stores.js';
import { benchSoak } from './soak.js';
import { benchStatusList } from './status-list.js';
import { benchStores } from './stores.js';
import { benchVerify } from './verify.js';

/** Targets: `min` for ratios that must reach a floor, `max` for added latencies. */
const TARGETS: Record<string, { min?: number; max?: number }> = {
  mint_vs_raw_sign: { min: 0.8 },
  verify_vs_raw_verify: { min: 0.75 },
  verify_status_list_vs_verify: { min: 0.7 },
  http_token_vs_baseline: { min: 0.9 },
  http_token_audit_vs_no_audit: { min: 0.95 },
  http_token_vs_openbao: { min: 3 },
  registration_vs_baseline: { min: 1 },
  registration_p99_ms: { max: 25 },
  awskms_added_p99_ms: { max: 1 },
  soak_rss_growth_pct: { max: 10 },
  full_vs_empty_rss: { max: 2 },
  full_vs_empty_p99: { max: 2 },
};

const BENCHES: Record<string, () => Promise<Record<string, number>>> = {
  mint: benchMint,
  verify: async () => {
    const result = await benchVerify();
    return {
      verify_per_s: Math.round(result.verifierPerSec),
      raw_verify_per_s: Math.round(result.rawVerifyPerSec),
      verify_vs_raw_verify: Number(result.ratio.toFixed(3)),
      verify_status_list_per_s: result.statusListPerSec,
      verify_status_list_vs_verify: Number(result.statusListRatio.toFixed(3)),
    };
  },
  'status-list': benchStatusList,
  http: benchHttp,
  audit: benchAudit,
  'http-stores': benchHttpStores,
  registration: benchRegistration,
  'registration-stores': benchRegistrationStores,
  openbao: benchOpenBaoOidc,
  stores: benchStores,
  aws: benchAwsKms,
  pkcs11: benchPkcs11,
  // Not in the default run (ten minutes): `--only soak`.
  soak: benchSoak,
};
const OPT_IN = ['soak'];

const json = process.argv.includes('--json');
const onlyIndex = process.argv.indexOf('--only');
const only =
  onlyIndex > 0
    ? process.argv[onlyIndex + 1]!.split(',')
    : Object.keys(BENCHES).filter((name) => !OPT_IN.includes(name));

const figures: Record<string, number> = {};
for (const name of only) {
  const bench = BENCHES[name];
  if (!bench) throw new Error(`unknown bench ${name} (have: ${Object.keys(BENCHES).join(', ')})`);
  if (!json) process.stderr.write(`running ${name}...\n`);
  Object.assign(figures, await bench());
}

if (json) {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  for (const [name, value] of Object.entries(figures)) {
    const target = TARGETS[name];
    let verdict = '';
    if (target?.min !== undefined)
      verdict = `  (target >= ${target.min}: ${value >= target.min ? 'met' : 'MISSED'})`;
    if (target?.max !== undefined)
      verdict = `  (target <= ${target.max}: ${value <= target.max ? 'met' : 'MISSED'})`;
    process.stdout.write(`${name.padEnd(36)} ${value}${verdict}\n`);
  }
}
