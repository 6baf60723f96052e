#!/usr/bin/env python3
"""The report of bench/run: one table on standard output, RESULTS.md and results.svg.

Usage: report.py RESULTS_TSV META_TSV OUT_DIR

RESULTS_TSV holds one line per wrk run: scenario, server, and the JSON summary printed by
bench/wrk.lua. META_TSV holds key/value lines about the machine and the run. Only the standard
library is used.
"""

import html
import json
import math
import sys
from pathlib import Path

GET_BASELINE = "bare-get"
POST_BASELINE = "bare-post"

# (scenario, label, baseline) in table order.
ROWS = [
    ("bare-get", "bare axum handler, GET, no authentication", GET_BASELINE),
    ("bare-post", "bare axum handler, POST, no authentication", POST_BASELINE),
    ("public", "GET /api/public/ anonymous", GET_BASELINE),
    ("token", "GET /api/profile/ Token", GET_BASELINE),
    ("jwt", "GET /api/jwt/profile/ JWT access token", GET_BASELINE),
    ("session", "GET /api/dashboard/ session cookie", GET_BASELINE),
    ("login", "POST /api-token-auth/ login", POST_BASELINE),
    ("token+logins", "GET /api/profile/ Token, while {lc} clients log in", GET_BASELINE),
    ("logins-bg", "  (the {lc} login clients meanwhile)", POST_BASELINE),
]

# Chart groups: (scenario, label); bars for bare, restauth and DRF where measured.
CHART = [
    ("public", "public (anonymous)"),
    ("token", "Token"),
    ("jwt", "JWT"),
    ("session", "session"),
    ("login", "login (POST)"),
    ("token+logins", "Token during logins"),
]
CHART_BASELINE = {"login": POST_BASELINE}

TARGET_ROUTES = ["token", "jwt", "session"]


def load(results_path, meta_path):
    results = {}
    for line in Path(results_path).read_text().splitlines():
        if not line.strip():
            continue
        scenario, server, payload = line.split("\t", 2)
        r = json.loads(payload)
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
        if r["requests"] == 0:
            # No request completed within the run: wrk's latencies are meaningless zeros.
            for k in ("p50_us", "p90_us", "p99_us", "max_us"):
                r[k] = None
        r["errors"] = sum(r[k] for k in r if k.startswith("errors_"))
        results[(scenario, server)] = r
    meta = {}
    for line in Path(meta_path).read_text().splitlines():
        if "\t" in line:
            key, value = line.split("\t", 1)
            meta[key] = value
    return results, meta


def median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2] if values else None


def judge_rounds(results):
    """The interleaved rounds: per route, the ratio of each round (route ÷ the bare run just
    before it), their median and spread. The median round's figures stand for the route in
    the tables, and the median bare run for the bare handler."""
    rounds = {}
    bare_runs = []
    for (scenario, server), r in results.items():
        if server == "restauth" and "#" in scenario:
            route, n = scenario.split("#", 1)
            bare = results.get((f"bare-get#{n}:{route}", "bare"))
            if bare and bare["rps"]:
                rounds.setdefault(route, []).append((r["rps"] / bare["rps"], r, bare))
        if server == "bare" and scenario.startswith("bare-get#"):
            bare_runs.append(r)
    judged = {}
    for route, runs in rounds.items():
        runs.sort(key=lambda x: x[0])
        mid = runs[(len(runs) - 1) // 2]
        results[(route, "restauth")] = mid[1]
        judged[route] = {
            "median": mid[0],
            "low": runs[0][0],
            "high": runs[-1][0],
            "n": len(runs),
            "run": mid[1],
            "bare": mid[2],
        }
    if bare_runs and ("bare-get", "bare") not in results:
        results[("bare-get", "bare")] = sorted(bare_runs, key=lambda r: r["rps"])[
            (len(bare_runs) - 1) // 2
        ]
    return judged


def rps(v):
    if v is None:
        return ""
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def ms(us, missing=""):
    if us is None:
        return missing
    if us >= 1_000_000:
        return f"{us / 1e6:.2f} s"
    if us >= 10_000:
        return f"{us / 1e3:.0f} ms"
    return f"{us / 1e3:.2f} ms"


def ratio(a, b):
    if a is None or not b:
        return None
    return a / b


def fmt_ratio(x, suffix=""):
    if x is None:
        return ""
    if x >= 100:
        return f"{x:,.0f}{suffix}"
    if x >= 10:
        return f"{x:.1f}{suffix}"
    if x < 0.01:
        return f"{x:.4f}{suffix}"
    return f"{x:.2f}{suffix}"


def mib(kib):
    try:
        return int(kib) / 1024
    except (TypeError, ValueError):
        return None


def table_rows(results, meta, judged=None):
    lc = meta.get("login_clients", "8")
    rows = []
    scale_rows = sorted(
        {s for (s, _) in results if s.startswith("scale-")},
        key=lambda s: (int(s.split("-")[1]), s.endswith("off")),
    )
    entries = list(ROWS)
    for s in scale_rows:
        _, n, _, cache = s.split("-")
        label = f"GET /api/profile/ Token, {int(n):,} tokens stored, cache {cache}"
        entries.append((s, label, GET_BASELINE))
    for cache in ("on", "off"):
        label = f"GET /api/profile/ Token, PostgreSQL, cache {cache}"
        entries.append((f"postgres-cache-{cache}", label, GET_BASELINE))
    for scenario, label, baseline in entries:
        server = "bare" if scenario.startswith("bare-") else "restauth"
        ra = results.get((scenario, server))
        drf = results.get((scenario, "drf"))
        if ra is None and drf is None:
            continue
        base = results.get((baseline, "bare"))
        rows.append(
            {
                "scenario": scenario,
                "label": label.format(lc=lc),
                "ra": ra,
                "drf": drf,
                "vs_bare": judged[scenario]["median"]
                if judged and scenario in judged and server == "restauth"
                else ratio(ra and ra["rps"], base and base["rps"]),
                "vs_drf": ratio(ra and ra["rps"], drf and drf["rps"]),
            }
        )
    return rows


def markdown_table(rows, with_drf):
    head = ["scenario", "req/s", "p50", "p99", "÷ bare"]
    if with_drf:
        head += ["DRF req/s", "DRF p50", "DRF p99", "restauth / DRF"]
    head += ["errors"]
    lines = []
    for r in rows:
        ra, drf = r["ra"], r["drf"]
        cells = [
            r["label"],
            rps(ra and ra["rps"]),
            ms(ra and ra["p50_us"], "–" if ra else ""),
            ms(ra and ra["p99_us"], "–" if ra else ""),
            fmt_ratio(r["vs_bare"]),
        ]
        errors = str(ra["errors"]) if ra else "–"
        if with_drf:
            cells += [
                rps(drf and drf["rps"]),
                ms(drf and drf["p50_us"], "–" if drf else ""),
                ms(drf and drf["p99_us"], "–" if drf else ""),
                fmt_ratio(r["vs_drf"], "×"),
            ]
            if drf:
                errors += f" / {drf['errors']}"
        cells.append(errors)
        lines.append(cells)
    widths = [max(len(head[i]), *(len(c[i]) for c in lines)) for i in range(len(head))]

    def fmt(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(
        "-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)
    ) + "|"
    return "\n".join([fmt(head), sep] + [fmt(c) for c in lines])


TARGETS = {"public": 0.9, "token": 0.8, "jwt": 0.8, "session": 0.8}
LATENCY_P99_TARGET_US = 2000
CACHE_MISS_TARGET = 0.3
# The spray scenarios: (result prefix, the valid client, what the spray sends).
SPRAYS = [
    ("", "Token", "random 40-hex Token keys"),
    ("session-", "session", "random sessionid cookies"),
]


def targets(rows, results, meta, with_drf, judged):
    by = {r["scenario"]: r for r in rows}
    out = []

    def verdict(ok):
        return "met" if ok else "**not met**"

    for s, target in TARGETS.items():
        j = judged.get(s)
        if j:
            out.append(
                f"- {s}: {fmt_ratio(j['median'])} of the bare handler's requests/s, median of "
                f"{j['n']} interleaved rounds (spread {fmt_ratio(j['low'])}–{fmt_ratio(j['high'])}; "
                f"target ≥ {target}): {verdict(j['median'] >= target)}"
            )
    rate = meta.get("latency_rate")
    bare_p99 = meta.get("latency_bare_p99_us")
    for s in TARGETS:
        p99 = meta.get(f"latency_{s}_p99_us")
        if p99 is not None and rate:
            p99 = int(p99)
            reference = f"; the bare handler {ms(int(bare_p99))}" if bare_p99 else ""
            out.append(
                f"- {s}: p99 {ms(p99)} at a fixed {int(rate):,} requests/s (half the bare "
                f"handler's, oha{reference}; target ≤ 2 ms): "
                f"{verdict(p99 <= LATENCY_P99_TARGET_US)}"
            )
    base = results.get(("bare-get", "bare"))
    for key in sorted((k for (k, srv) in results if k.startswith("scale-") and k.endswith("-off")),
                      key=lambda k: int(k.split("-")[1])):
        r = results[(key, "restauth")]
        x = ratio(r["rps"], base and base["rps"])
        if x is not None:
            out.append(
                f"- cache miss (`[cache] ttl = 0`), {int(key.split('-')[1]):,} tokens stored: "
                f"{fmt_ratio(x)} of the bare handler (target ≥ {CACHE_MISS_TARGET}): "
                f"{verdict(x >= CACHE_MISS_TARGET)}"
            )
    pg = results.get(("postgres-cache-off", "restauth"))
    x = ratio(pg["rps"], base and base["rps"]) if pg else None
    if x is not None:
        out.append(
            f"- cache miss (`[cache] ttl = 0`) on PostgreSQL: {fmt_ratio(x)} of the bare handler "
            f"(target ≥ {CACHE_MISS_TARGET}): {verdict(x >= CACHE_MISS_TARGET)}"
        )
    for prefix, client, keys in SPRAYS:
        alone = results.get((f"{prefix}spray-alone", "restauth"))
        beside = results.get((f"{prefix}spray-valid", "restauth"))
        if alone and beside and alone["rps"]:
            kept = beside["rps"] / alone["rps"]
            out.append(
                f"- a valid {client} client keeps {kept:.0%} of its requests/s while as many "
                f"connections send {keys} ({rps(alone['rps'])} alone, {rps(beside['rps'])} "
                "beside the spray)"
            )
    if with_drf:
        for s in ["token", "jwt", "session"]:
            r = by.get(s)
            if r and r["vs_drf"] is not None:
                out.append(
                    f"- {s}: {fmt_ratio(r['vs_drf'], '×')} DRF's requests/s "
                    f"(target ≥ 50×): {verdict(r['vs_drf'] >= 50)}"
                )
    r = by.get("token+logins")
    if r and r["ra"] and r["ra"]["p99_us"] is not None:
        p99 = r["ra"]["p99_us"]
        out.append(
            f"- Token route p99 while {meta.get('login_clients', '8')} clients log in: {ms(p99)} "
            f"(target < 10 ms): {verdict(p99 < 10_000)}"
        )
    peaks = [mib(v) for k, v in meta.items() if k.startswith("rss_") and "bare" not in k]
    peaks = [p for p in peaks if p is not None]
    if peaks:
        peak = max(peaks)
        out.append(
            f"- restauth peak resident memory over all its runs: {peak:.1f} MiB "
            f"(target < 64 MiB): {verdict(peak < 64)}"
        )
    return "\n".join(out)


LADDER_LABELS = {
    "bare": "bare handler (axum::serve)",
    "serve": "+ restauth::serve (paths, DRF 404/405, header timeout, peer address)",
    "request-id": "+ request id (set and propagate)",
    "trace": "+ trace span",
    "panic": "+ panic catching",
    "hosts": "+ allowed hosts",
    "timeout": "+ timeout and body limits",
    "headers": "+ nosniff header",
    "view": "+ ApiView, AllowAny, no authentication class",
    "anonymous": "+ the four classes, no credentials (as /api/public/)",
    "token": "Token class + IsAuthenticated (instead of the four)",
    "jwt": "JWT class + IsAuthenticated",
    "session": "session class + IsAuthenticated",
}
REAL_ROUTES = [
    ("public", "server: GET /api/public/"),
    ("token", "server: GET /api/profile/ Token"),
    ("jwt", "server: GET /api/jwt/profile/ JWT"),
    ("session", "server: GET /api/dashboard/ session"),
]


def cpu_per_request(r):
    if not r or "cpu_us" not in r or not r["requests"]:
        return None
    return r["cpu_us"] / r["requests"]


def ladder_table(results, judged):
    steps = [s[len("ladder:"):] for (s, srv) in results if s.startswith("ladder:")]
    if not steps:
        return ""
    bare = results.get(("ladder:bare", "ladder"))
    lines = ["| step | req/s | ÷ bare | CPU µs / request | added |", "|---|---:|---:|---:|---:|"]
    previous = None
    for step in steps:
        r = results[(f"ladder:{step}", "ladder")]
        cpu = cpu_per_request(r)
        # Each authentication class replaces the four of "anonymous": compared with that.
        anchor = previous
        if step in ("jwt", "session"):
            anchor = cpu_per_request(results.get(("ladder:anonymous", "ladder")))
        added = f"{cpu - anchor:+.1f}" if cpu is not None and anchor is not None else ""
        lines.append(
            f"| {LADDER_LABELS.get(step, step)} | {rps(r['rps'])} | "
            f"{fmt_ratio(ratio(r['rps'], bare and bare['rps']))} | "
            f"{'' if cpu is None else f'{cpu:.1f}'} | {added} |"
        )
        if step not in ("token", "jwt", "session"):
            previous = cpu
    for route, label in REAL_ROUTES:
        j = judged.get(route)
        if not j:
            continue
        cpu = cpu_per_request(j["run"])
        bare_cpu = cpu_per_request(j["bare"])
        lines.append(
            f"| {label} (median round) | {rps(j['run']['rps'])} | {fmt_ratio(j['median'])} | "
            f"{'' if cpu is None else f'{cpu:.1f}'} | "
            f"{'' if cpu is None or bare_cpu is None else f'{cpu - bare_cpu:+.1f} vs bare'} |"
        )
    return "\n".join(lines)


def memory_lines(meta):
    lines = []
    label = {
        "rss_restauth_kib": "restauth, main scenarios (one process, all routes and logins)",
        "rss_bare_kib": "bare handler",
    }
    for key in ["rss_restauth_kib", "rss_bare_kib"]:
        if key in meta:
            lines.append(f"- {label[key]}: {mib(meta[key]):.1f} MiB")
    scale_keys = [k for k in meta if k.startswith("rss_scale_")]
    for key in sorted(scale_keys, key=lambda k: (int(k.split("_")[2]), k.split("_")[4] == "off")):
        parts = key.split("_")  # rss scale N cache on|off kib
        n, cache = int(parts[2]), parts[4]
        lines.append(f"- restauth, {n:,} tokens stored, cache {cache}: {mib(meta[key]):.1f} MiB")
    return "\n".join(lines)


def scale_lines(meta):
    lines = []
    for key in sorted((k for k in meta if k.startswith("tokens_")), key=lambda k: int(k[7:])):
        n = key[7:]
        fill = meta.get(f"fill_seconds_{n}")
        text = f"- {int(meta[key]):,} rows in `authtoken_token`"
        if fill:
            text += f" (filled in {fill} s with the sqlite3 CLI)"
        lines.append(text)
    return "\n".join(lines)


def summary(rows, meta, with_drf):
    by = {r["scenario"]: r for r in rows}
    auth = [by[s] for s in TARGET_ROUTES if s in by and by[s]["vs_bare"] is not None]
    parts = []
    if auth:
        lo = min(r["vs_bare"] for r in auth)
        hi = max(r["vs_bare"] for r in auth)
        parts.append(
            f"The Token, JWT and session routes answer at {lo:.0%}–{hi:.0%} of the requests/s "
            "of a bare axum handler that authenticates nothing"
        )
        if with_drf:
            ratios = [r["vs_drf"] for r in auth if r["vs_drf"] is not None]
            if ratios:
                parts[-1] += (
                    f", {min(ratios):,.0f}–{max(ratios):,.0f} times the requests/s of DRF "
                    f"under gunicorn with {meta.get('drf_workers', '?')} workers"
                )
        parts[-1] += "."
    r = by.get("token+logins")
    if r and r["ra"] and r["ra"]["p99_us"] is not None:
        parts.append(
            f"While {meta.get('login_clients', '8')} clients log in without pause, the Token "
            f"route's p99 is {ms(r['ra']['p99_us'])}."
        )
    scale = sorted(
        (s for s in by if s.startswith("scale-") and s.endswith("-on")),
        key=lambda s: int(s.split("-")[1]),
    )
    if len(scale) >= 2:
        first, last = by[scale[0]], by[scale[-1]]
        parts.append(
            f"With {int(scale[0].split('-')[1]):,} and {int(scale[-1].split('-')[1]):,} tokens "
            f"stored the Token route serves {rps(first['ra']['rps'])} and "
            f"{rps(last['ra']['rps'])} requests/s."
        )
    return " ".join(parts)


def svg_chart(results, meta):
    series = [("bare", "bare axum handler", "#9aa0a6"), ("restauth", "restauth", "#d9480f"),
              ("drf", "DRF + gunicorn", "#2b8a3e")]
    groups = []
    for scenario, label in CHART:
        bars = []
        for server, _, _ in series:
            key = (CHART_BASELINE.get(scenario, GET_BASELINE), "bare") if server == "bare" \
                else (scenario, server)
            if scenario == "token+logins" and server == "bare":
                key = None
            r = results.get(key) if key else None
            bars.append(r["rps"] if r else None)
        if any(b is not None for b in bars):
            groups.append((label, bars))
    values = [v for _, bars in groups for v in bars if v]
    top = 10 ** math.ceil(math.log10(max(values))) if values else 10
    bottom = 1
    bar_w, gap, group_gap = 46, 4, 34
    left, right, top_m, bottom_m = 70, 20, 70, 70
    plot_h = 340
    group_w = 3 * bar_w + 2 * gap
    width = left + right + len(groups) * group_w + (len(groups) - 1) * group_gap
    height = top_m + plot_h + bottom_m

    def y(v):
        v = max(v, bottom)
        return top_m + plot_h * (1 - (math.log10(v) - math.log10(bottom))
                                 / (math.log10(top) - math.log10(bottom)))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    title = (f"Requests per second (log scale) — wrk -t{meta.get('threads')} "
             f"-c{meta.get('connections')}, {meta.get('duration')} s per scenario, "
             f"{meta.get('nproc')} cores")
    out.append(f'<text x="{left}" y="22" font-size="15" font-weight="bold">'
               f'{html.escape(title)}</text>')
    if meta.get("note"):
        out.append(f'<text x="{left}" y="40" fill="#c92a2a">{html.escape(meta["note"])}</text>')
    # Legend.
    lx = left
    for _, name, color in series:
        out.append(f'<rect x="{lx}" y="50" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{lx + 16}" y="60">{html.escape(name)}</text>')
        lx += 30 + 7 * len(name)
    # Grid, one line per decade.
    d = 0
    while 10 ** d <= top:
        v = 10 ** d
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   'stroke="#e9ecef"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#495057">'
                   f'{v:,}</text>')
        d += 1
    for gi, (label, bars) in enumerate(groups):
        gx = left + gi * (group_w + group_gap)
        for bi, v in enumerate(bars):
            if v is None:
                continue
            x = gx + bi * (bar_w + gap)
            yy = y(v)
            out.append(f'<rect x="{x}" y="{yy:.1f}" width="{bar_w}" '
                       f'height="{top_m + plot_h - yy:.1f}" fill="{series[bi][2]}"/>')
            out.append(f'<text x="{x + bar_w / 2}" y="{yy - 4:.1f}" text-anchor="middle" '
                       f'font-size="10">{rps(v)}</text>')
        out.append(f'<text x="{gx + group_w / 2}" y="{top_m + plot_h + 20}" '
                   f'text-anchor="middle">{html.escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top_m + plot_h}" '
               f'y2="{top_m + plot_h}" stroke="#495057"/>')
    foot = f"{meta.get('cpu', '')} — {meta.get('date', '')} — bench/run"
    out.append(f'<text x="{left}" y="{height - 16}" fill="#868e96" font-size="11">'
               f'{html.escape(foot)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    results_path, meta_path, out_dir = sys.argv[1:4]
    results, meta = load(results_path, meta_path)
    judged = judge_rounds(results)
    with_drf = any(server == "drf" for (_, server) in results)
    rows = table_rows(results, meta, judged)
    table = markdown_table(rows, with_drf)
    ladder = ladder_table(results, judged)
    target_lines = targets(rows, results, meta, with_drf, judged)
    print()
    if ladder:
        print(ladder)
        print()
    print(table)
    print()
    print(target_lines)
    print()

    out = Path(out_dir)
    (out / "results.svg").write_text(svg_chart(results, meta))
    md = ["# restauth benchmark results", ""]
    if meta.get("note"):
        md += [f"> **{meta['note']}**", ""]
    md += [summary(rows, meta, with_drf), "", "![requests per second](results.svg)", ""]
    md += [
        "## How it was measured",
        "",
        f"- Command: `{meta.get('command', 'bench/run')}` (commit {meta.get('commit', '?')})",
        f"- Date: {meta.get('date', '?')}",
        f"- Machine: {meta.get('nproc', '?')} cores, {meta.get('cpu', '?')}, "
        f"{meta.get('memory', '?')}, {meta.get('kernel', '?')}",
        f"- Load: {meta.get('wrk', 'wrk')} on the same machine, `-t{meta.get('threads')} "
        f"-c{meta.get('connections')}`, {meta.get('duration')} s per scenario; the public, "
        f"Token, JWT and session routes in {meta.get('rounds', '1')} interleaved rounds with the "
        "bare handler (bare, route, bare, route, …), judged by the median ratio",
        f"- restauth: {meta.get('rustc', '?')}, release build, default settings, a fresh "
        f"SQLite file (SQLite CLI {meta.get('sqlite', '?')} for the fill)",
    ]
    if with_drf:
        md.append(
            f"- DRF: {meta.get('drf_versions', '?')}; gunicorn with {meta.get('drf_workers', '?')} "
            "sync workers, SQLite, DEBUG off (bench/drf/)"
        )
    md += [
        "- Each scenario runs once with the credentials a client gets from the ordinary "
        "endpoints (`/api-token-auth/`, `/api/token/`, `/api/auth/csrf/` + `/api/auth/login/`).",
        "- Ratios compare figures from this one run; the bare handler answers the same JSON "
        "without authentication (GET rows are compared with its GET figure, logins with its "
        "POST figure).",
        "",
        "## Figures",
        "",
        "Latencies are wrk's (not corrected for coordinated omission); – means no request "
        "completed within the run. *errors* counts non-2xx answers and socket errors "
        "(restauth / DRF).",
        "",
        table,
        "",
    ]
    scale = scale_lines(meta)
    if scale:
        md += [
            "Scale: the Token route with the store filled with random digests owned by a second "
            "user; the benchmark's own token is a real one. *cache off* sets "
            "`RESTAUTH_CACHE__TTL=0`, so every request reads the token and user from SQLite.",
            "",
            scale,
            "",
        ]
    md += ["## Memory (peak resident set, VmHWM)", "", memory_lines(meta), ""]
    md += ["## Targets", "", target_lines, ""]
    if ladder:
        md += [
            "## The cost ladder",
            "",
            "One handler (the body of `/api/profile/`) served by `bench/ladder`, with the "
            "server's layers added one step at a time in the order `app.rs` stacks them, then "
            "each authentication class; each step is its own process under the same wrk load. "
            "*CPU µs / request* is the server process's user + system CPU time over the run "
            "divided by the requests it answered; *added* is the difference with the step "
            "before (the JWT and session classes are compared with the anonymous step, as the "
            "Token class is). The server's own routes close the table (the median round).",
            "",
            ladder,
            "",
        ]
    for prefix, client, keys in SPRAYS:
        spray_bits = [
            results.get((f"{prefix}{k}", "restauth"))
            for k in ("spray-alone", "spray-valid", "spray-random")
        ]
        if all(spray_bits):
            alone, valid, random_keys = spray_bits
            md += [
                f"## {keys[0].upper()}{keys[1:]} beside a valid client",
                "",
                f"A valid {client} client with {max(1, int(meta.get('connections', '2')) // 2)} "
                f"connections alone: {rps(alone['rps'])} requests/s; the same client while as "
                f"many connections send {keys}: {rps(valid['rps'])} requests/s, the random ones "
                f"being answered at {rps(random_keys['rps'])} requests/s (all refused).",
                "",
            ]
    notes = [
        "- Logins run each framework's default password hasher: restauth Argon2id "
        "(m = 19 MiB, t = 2, p = 1, on a pool as large as the core count); Django "
        f"{meta.get('drf_hasher', 'PBKDF2-SHA256')}. They measure the hasher more than the "
        "framework.",
    ]
    if with_drf:
        notes.append(
            "- gunicorn's sync workers close the connection after each response, so every DRF "
            "request also pays for a TCP connection; that is DRF's usual deployment."
        )
    md += ["## Notes", ""] + notes + [""]
    # The callgrind figures of bench/metrics-cost are measured apart (valgrind, not wrk) and
    # kept across runs of this report.
    for extra in ("instructions.md", "metrics-cost.md"):
        path = Path(__file__).resolve().parent / extra
        if path.is_file():
            md += [path.read_text().rstrip(), ""]
    (out / "RESULTS.md").write_text("\n".join(md))
    print(f"wrote {out / 'RESULTS.md'} and {out / 'results.svg'}")


if __name__ == "__main__":
    main()
