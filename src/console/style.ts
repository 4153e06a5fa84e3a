/** The console's only stylesheet, served from /console/style.css (CSP: style-src 'self'). */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #f6f7f9; --card: #fff; --muted: #5b6470;
  --line: #d9dde3; --ok: #1a7f37; --bad: #c62828; --accent: #0b5cad; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --bg: #111418; --card: #1a1e24;
  --muted: #9aa3ad; --line: #2c323a; --ok: #4ac26b; --bad: #ff6b6b; --accent: #6cb6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
code, .ref, time { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9em; }
a { color: var(--accent); }
.bar { display: flex; gap: 1rem; align-items: center; padding: 0.75rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; }
.logout { margin-left: auto; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; min-width: 0; }
.narrow { max-width: 28rem; margin: 2rem auto; width: 100%; }
h1, h2, h3 { margin: 0 0 0.5rem; line-height: 1.2; }
h2 { font-size: 1.15rem; } h3 { font-size: 1rem; margin-top: 1rem; }
.muted { color: var(--muted); }
.error { color: var(--bad); font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); }
.num { text-align: right; }
.counts td:first-child { white-space: normal; overflow-wrap: anywhere; }
.ref { max-width: 22rem; overflow: hidden; text-overflow: ellipsis; }
.health { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; }
.pill, .state { display: inline-block; padding: 0 0.5rem; border-radius: 999px; font-size: 0.8rem; border: 1px solid currentColor; }
.ok .pill { color: var(--ok); } .bad .pill { color: var(--bad); }
.state-active { color: var(--ok); } .state-pending { color: var(--accent); }
.state-retiring { color: #b26a00; } .state-retired, .state-disabled { color: var(--muted); }
.timeline { list-style: none; margin: 0; padding: 0 0 0 1rem; border-left: 2px solid var(--line); }
.timeline li { position: relative; padding: 0.2rem 0 0.2rem 0.5rem; }
.timeline li::before { content: ""; position: absolute; left: -1.4rem; top: 0.65rem; width: 0.6rem; height: 0.6rem; border-radius: 50%; background: var(--accent); }
.timeline li.planned { color: var(--muted); } .timeline li.planned::before { background: transparent; border: 2px solid var(--accent); }
.split { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; }
.timeline li, #next-rotation { overflow-wrap: anywhere; }
.filters { display: flex; flex-wrap: wrap; gap: 0.5rem 0.75rem; align-items: end; margin-bottom: 0.75rem; }
.filters label { display: flex; flex-direction: column; font-size: 0.8rem; color: var(--muted); }
input, select, button { font: inherit; padding: 0.35rem 0.5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
form label[for] { display: block; margin: 0.75rem 0 0.25rem; }
.narrow input { width: 100%; margin-bottom: 0.75rem; }
@media (max-width: 720px) {
  body { font-size: 14px; }
  main { padding: 0.5rem; gap: 0.5rem; }
  .split { grid-template-columns: minmax(0, 1fr); }
  .filters label { flex: 1 1 45%; }
  .filters input, .filters select { width: 100%; }
  .bar .muted { display: none; }
}
`;
