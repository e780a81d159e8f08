#!/usr/bin/python3
"""test_query_lib.py — shared by the query-api integration tests (test_query_*.sh).

Python 3 standard library only. Subcommands:
  wait       poll until the rollups hold every event of a truth file (the pipeline caught up)
  truth      every endpoint's answer against the simulator's ground truth file
  isolation  a tenant key never sees another tenant's rows (JSON and CSV), others' details are 404
  params     bad parameters (malformed, out of range, injection-looking, unknown) give 400 naming them
Every JSON answer is also validated against the schemas of openapi/query.yaml (a small validator
for the subset of JSON Schema the document uses); a mismatch is a failure.
"""
import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

FAILURES = []
CHECKS = [0]


def fail(msg):
    FAILURES.append(msg)
    if len(FAILURES) <= 40:
        print("FAIL: " + msg, file=sys.stderr)


def check(cond, msg):
    CHECKS[0] += 1
    if not cond:
        fail(msg)
    return cond


def finish(what):
    if FAILURES:
        print("%s: %d of %d checks failed" % (what, len(FAILURES), CHECKS[0]), file=sys.stderr)
        sys.exit(1)
    print("%s: all %d checks passed" % (what, CHECKS[0]))


# ------------------------------------------------------------------ OpenAPI schemas

def load_spec(path, source_dir):
    text = open(path, encoding="utf-8").read()
    try:
        import yaml  # python3-yaml when present
        return yaml.safe_load(text)
    except ImportError:
        pass
    # js-yaml ships with @redocly/cli in node_modules (scripts/deps.sh installs it).
    env = dict(os.environ, NODE_PATH=os.path.join(source_dir, "node_modules"))
    out = subprocess.run(["node", "-e", "process.stdout.write(JSON.stringify(require('js-yaml').load("
                          "require('fs').readFileSync(process.argv[1],'utf8'))))", path],
                         env=env, check=True, capture_output=True)
    return json.loads(out.stdout)


TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.routes = []
        for p, item in doc.get("paths", {}).items():
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"
            self.routes.append((re.compile(rx), item))

    def resolve(self, s):
        while "$ref" in s:
            node = self.doc
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            s = node
        return s

    def response_schema(self, path, status, ctype):
        for rx, item in self.routes:
            if rx.match(path):
                op = item.get("get")
                if not op:
                    return None, "no GET operation for %s" % path
                resp = op["responses"].get(str(status))
                if resp is None:
                    return None, "status %d not documented for %s" % (status, path)
                resp = self.resolve(resp)
                content = resp.get("content", {})
                if ctype not in content:
                    return None, "content type %s not documented for %s %d" % (ctype, path, status)
                return content[ctype].get("schema"), None
        return None, "path %s not documented" % path

    def validate(self, schema, v, where="$"):
        errs = []
        self._val(schema, v, where, errs)
        return errs

    def _val(self, s, v, where, errs):
        s = self.resolve(s)
        for sub in s.get("allOf", []):
            self._val(sub, v, where, errs)
        if v is None:
            if not s.get("nullable") and "type" in s:
                errs.append("%s: null but not nullable" % where)
            return
        t = s.get("type")
        ok = {"object": lambda x: isinstance(x, dict), "array": lambda x: isinstance(x, list),
              "string": lambda x: isinstance(x, str),
              "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
              "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
              "boolean": lambda x: isinstance(x, bool)}
        if t and not ok[t](v):
            errs.append("%s: expected %s, got %r" % (where, t, v))
            return
        if "enum" in s and v not in s["enum"]:
            errs.append("%s: %r not in %r" % (where, v, s["enum"]))
        if isinstance(v, str):
            if "pattern" in s and not re.search(s["pattern"], v):
                errs.append("%s: %r does not match %s" % (where, v, s["pattern"]))
            if s.get("format") == "date-time" and not TS_RE.match(v):
                errs.append("%s: %r is not an RFC 3339 date-time" % (where, v))
            if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 30):
                errs.append("%s: length of %r out of bounds" % (where, v))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "minimum" in s and v < s["minimum"]:
                errs.append("%s: %r < minimum %r" % (where, v, s["minimum"]))
            if "maximum" in s and v > s["maximum"]:
                errs.append("%s: %r > maximum %r" % (where, v, s["maximum"]))
        if isinstance(v, dict):
            props = s.get("properties", {})
            for r in s.get("required", []):
                if r not in v:
                    errs.append("%s: missing required %s" % (where, r))
            for k, x in v.items():
                if k in props:
                    self._val(props[k], x, where + "." + k, errs)
                elif s.get("additionalProperties") is False:
                    errs.append("%s: undocumented property %s" % (where, k))
        if isinstance(v, list) and "items" in s:
            for i, x in enumerate(v):
                self._val(s["items"], x, "%s[%d]" % (where, i), errs)


# ------------------------------------------------------------------ HTTP

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")
        self.json = None
        if headers.get("Content-Type", "").startswith("application/json"):
            try:
                self.json = json.loads(self.text)
            except ValueError:
                pass

    def csv_rows(self):
        return list(csv.reader(io.StringIO(self.text, newline="")))


def flatten(obj, prefix=""):
    """A JSON object as CSV sees it: nested objects become dotted names (totals.logins)."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def json_rows(body):
    """The table a JSON answer carries: its series, its tenants, or the object itself."""
    for key in ("series", "tenants"):
        if isinstance(body.get(key), list):
            return [flatten(x) for x in body[key]]
    return [flatten(body)]


# The moment of the answer itself: the JSON and the CSV request differ in it.
VOLATILE = {"as_of"}


def cell_equal(want, cell):
    if want is None:
        return cell == ""
    if isinstance(want, bool):
        return cell == ("true" if want else "false")
    if isinstance(want, int):
        return re.fullmatch(r"-?\d+", cell) is not None and int(cell) == want
    if isinstance(want, float):
        try:
            return abs(float(cell) - want) <= 1e-9 * max(1.0, abs(want))
        except ValueError:
            return False
    return cell == want


class Api:
    def __init__(self, base, spec):
        self.base = base.rstrip("/")
        self.spec = spec
        self.calls = 0
        self.csv_twin = False  # after each 200 JSON answer, also fetch the CSV and compare

    def compare_csv(self, label, rj, rc):
        """The CSV answer holds exactly the JSON answer's rows, columns and values."""
        if not check(rc.status == 200 and rc.headers.get("Content-Type", "").startswith("text/csv"),
                     "%s CSV: status %d, %s" % (label, rc.status, rc.headers.get("Content-Type"))):
            return
        want, rows = json_rows(rj.json), rc.csv_rows()
        if not check(len(rows) == 1 + len(want), "%s CSV: %d rows, JSON has %d" % (label, len(rows) - 1, len(want))):
            return
        hdr = rows[0]
        for i, (w, row) in enumerate(zip(want, rows[1:])):
            if not check(sorted(hdr) == sorted(w) and len(row) == len(hdr),
                         "%s CSV row %d: columns %s, JSON %s" % (label, i, hdr, sorted(w))):
                return
            for name, cell in zip(hdr, row):
                if name in VOLATILE:
                    continue
                check(cell_equal(w[name], cell), "%s CSV row %d: %s = %r, JSON %r" % (label, i, name, cell, w[name]))

    def get(self, path, token=None, params=None, accept=None, raw_query=None, expect=None, what=None):
        url = self.base + path
        if raw_query is not None:
            url += "?" + raw_query
        elif params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if accept:
            req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                resp = Resp(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            resp = Resp(e.code, e.headers, e.read())
        self.calls += 1
        label = what or ("GET " + url[len(self.base):])
        if self.csv_twin and accept is None and resp.status == 200 and resp.json is not None:
            self.compare_csv(label, resp, self.get(path, token, params, accept="text/csv", raw_query=raw_query))
        if expect is not None:
            check(resp.status == expect, "%s: status %d, expected %d: %s" % (label, resp.status, expect,
                                                                            resp.text[:300]))
        if self.spec is not None:
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
            schema, why = self.spec.response_schema(path, resp.status, ctype)
            if why:
                check(False, "%s: not in openapi/query.yaml: %s" % (label, why))
            elif schema is not None and ctype == "application/json":
                if check(resp.json is not None, "%s: body is not JSON" % label):
                    for err in self.spec.validate(schema, resp.json)[:5]:
                        check(False, "%s: schema: %s" % (label, err))
        return resp


def parse_ts(s):
    if s is None:
        return None
    s = s.replace("Z", "+00:00")
    return dt.datetime.fromisoformat(s)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ keys

def mint_key(args, tenant, scopes=("read",)):
    """A key for tenant (None = all tenants): ingest-api's admin endpoint, else tp-keys."""
    if args.ingest_url and args.admin_token:
        body = json.dumps({"tenant_id": tenant, "scopes": list(scopes)}).encode()
        req = urllib.request.Request(args.ingest_url.rstrip("/") + "/v1/admin/keys", data=body, method="POST")
        req.add_header("Authorization", "Bearer " + args.admin_token)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())["key"]
        except (urllib.error.URLError, KeyError, ValueError) as e:
            if not args.keys_bin:
                raise SystemExit("cannot mint a key through %s: %s" % (args.ingest_url, e))
    if args.keys_bin and os.path.exists(args.keys_bin):
        cmd = [args.keys_bin, "create", "--scopes", ",".join(scopes), "--description", "test_query"]
        cmd += ["--tenant", tenant] if tenant else ["--all-tenants"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads(out.stdout)["key"]
    raise SystemExit("no way to mint keys: give --ingest-url/--admin-token or --keys-bin")


# ------------------------------------------------------------------ ground truth

COUNTERS = ["logins", "logoffs", "session_timeouts", "sessions", "session_seconds", "dataset_actions",
            "datasets_created", "datasets_updated", "datasets_deleted", "jobs_submitted", "jobs_terminated",
            "jobs_succeeded", "jobs_failed", "jobs_cancelled", "servers_used", "job_data_bytes", "active_users",
            "users_added", "users_deleted", "events"]
JOB_COUNTERS = ["jobs_submitted", "jobs_terminated", "jobs_succeeded", "jobs_failed", "jobs_cancelled",
                "servers_used", "job_data_bytes"]
SUMMABLE = [c for c in COUNTERS if c != "active_users"]


class Truth:
    def __init__(self, path):
        self.tenants, self.hours, self.days, self.summary = {}, {}, {}, None
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            k = r.get("kind")
            if k == "tenant":
                self.tenants[r["tenant_id"]] = r
            elif k == "hour":
                self.hours[(r["tenant_id"], r["hour"])] = r
            elif k == "day":
                self.days[(r["tenant_id"], r["day"])] = r
            elif k == "summary":
                self.summary = r
        self.start = parse_ts(self.summary["start"])
        self.end = parse_ts(self.summary["end"])

    def day_rows(self, tid, start=None, end=None):
        for (t, d), r in self.days.items():
            day = parse_ts(d + "T00:00:00Z")
            if t == tid and (start is None or day >= start) and (end is None or day < end):
                yield r

    def hour_rows(self, tid, start, end):
        for (t, h), r in self.hours.items():
            hour = parse_ts(h)
            if t == tid and start <= hour < end:
                yield r


def zero():
    return {c: 0 for c in COUNTERS + ["tenants_created"]}


def compare_series(label, got, want_by_start, counters, start, end, step):
    series = got.get("series") if got else None
    if not check(isinstance(series, list), "%s: no series" % label):
        return
    n = int((end - start) / step)
    check(len(series) == n, "%s: %d points, expected %d (zero-filled)" % (label, len(series), n))
    t = start
    for p in series:
        check(parse_ts(p["start"]) == t, "%s: point starts %s, expected %s" % (label, p["start"], iso(t)))
        want = want_by_start.get(iso(t), zero())
        for c in counters:
            check(p.get(c) == want.get(c, 0), "%s @%s: %s = %r, truth %r" % (label, iso(t), c, p.get(c),
                                                                            want.get(c, 0)))
        if "session_minutes" in p:
            check(abs(p["session_minutes"] - want.get("session_seconds", 0) / 60.0) < 1e-6,
                  "%s @%s: session_minutes %r" % (label, iso(t), p["session_minutes"]))
        t += step


def processor_ready(url):
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/readyz", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def cmd_wait(args, api):
    """Poll until the rollups hold every event of the truth file (the processor caught up).
    Fails at once when the stream processor stops answering /readyz, and when no new event has
    become visible for --stall seconds: a dead or stuck pipeline is reported, not waited out."""
    import time
    tr = Truth(args.truth)
    want = {tid: t["events"] for tid, t in tr.tenants.items()}
    total = sum(want.values())
    deadline = time.time() + args.timeout
    last, last_change, down = None, time.time(), 0

    def visible():
        have = {}
        for tid in tr.tenants:
            r = api.get("/v1/tenants/" + tid, args.token)
            have[tid] = ((r.json or {}).get("totals") or {}).get("events") if r.status == 200 else None
        return have

    while True:
        have = visible()
        if have == want:
            # and stays so: a late duplicate or a double count would show up as more
            time.sleep(2)
            if visible() == want:
                print("wait: rollups hold all %d events of %d tenants" % (total, len(want)))
                return
        now = time.time()
        if have != last:
            print("wait: %d of %d events visible" % (sum(v or 0 for v in have.values()), total), flush=True)
            last, last_change = have, now
        if args.processor_url:
            down = 0 if processor_ready(args.processor_url) else down + 1
            if down >= 3:
                raise SystemExit("wait: the stream processor at %s does not answer /readyz (dead?); "
                                 "%d of %d events rolled up" % (args.processor_url,
                                                                sum(v or 0 for v in have.values()), total))
        if now > deadline or now - last_change > args.stall:
            diff = {t: (have[t], want[t]) for t in want if have[t] != want[t]}
            raise SystemExit("wait: the rollups did not catch up (%s); tenant: (have, want) %s" % (
                "no progress for %ds" % args.stall if now <= deadline else "%ds passed" % args.timeout, diff))
        time.sleep(2)


def cmd_truth(args, api):
    tr = Truth(args.truth)
    # Read with a fresh all-tenants read-only key when one can be minted (the admin token also reads).
    tok = mint_key(args, None) if (args.ingest_url and args.admin_token) or args.keys_bin else args.token
    mine = sorted(tr.tenants)
    start, end = tr.start, tr.end
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    span = {"from": iso(start), "to": iso(end)}
    print("truth: %d tenants, %s .. %s" % (len(mine), iso(start), iso(end)))

    scoped = {tid: mint_key(args, tid) for tid in mine}
    # Every 200 JSON answer below is fetched again as CSV and must carry the same table, so the
    # CSV of every endpoint is compared with the truth through its JSON twin.
    api.csv_twin = True

    for tid in mine:
        t = tr.tenants[tid]
        # -- detail
        r = api.get("/v1/tenants/" + tid, tok, expect=200)
        d = r.json or {}
        for f in ("company_name", "industry", "plan", "user_count", "data_size_bytes"):
            check(d.get(f) == t[f], "%s detail: %s = %r, truth %r" % (tid, f, d.get(f), t[f]))
        check(abs((d.get("sentiment") or 0) - t["sentiment"]) < 1e-9, "%s detail: sentiment" % tid)
        check(d.get("status") == ("closed" if t["closed_at"] else "active"), "%s detail: status" % tid)
        for f in ("created_at", "closed_at", "last_activity_at"):
            check(parse_ts(d.get(f)) == parse_ts(t[f]), "%s detail: %s = %r, truth %r" % (tid, f, d.get(f), t[f]))
        tot = d.get("totals", {})
        want_tot = {c: 0 for c in SUMMABLE}
        days_active = 0
        for row in tr.day_rows(tid):
            for c in SUMMABLE:
                want_tot[c] += row[c]
            days_active += 1 if row["events"] else 0
        for c in SUMMABLE:
            check(tot.get(c) == want_tot[c], "%s totals: %s = %r, truth %r" % (tid, c, tot.get(c), want_tot[c]))
        check(tot.get("users_added") == t["users_added"], "%s totals: users_added vs tenant line" % tid)
        check(tot.get("users_deleted") == t["users_deleted"], "%s totals: users_deleted vs tenant line" % tid)
        check(tot.get("events") == t["events"], "%s totals: events vs tenant line" % tid)
        check(tot.get("active_days") == days_active, "%s totals: active_days" % tid)

        # -- activity and jobs series, both granularities
        by_hour = {r["hour"]: r for (x, _), r in tr.hours.items() if x == tid}
        by_day = {r["day"] + "T00:00:00Z": r for (x, _), r in tr.days.items() if x == tid}
        r = api.get("/v1/tenants/%s/activity" % tid, tok, dict(span, granularity="hour"), expect=200)
        compare_series(tid + " activity/hour", r.json, by_hour, COUNTERS, start, end, hour)
        r = api.get("/v1/tenants/%s/activity" % tid, tok, dict(span, granularity="day"), expect=200)
        compare_series(tid + " activity/day", r.json, by_day, COUNTERS, start, end, day)
        r = api.get("/v1/tenants/%s/jobs" % tid, tok, dict(span, granularity="day"), expect=200)
        compare_series(tid + " jobs/day", r.json, by_day, JOB_COUNTERS, start, end, day)
        r = api.get("/v1/tenants/%s/jobs" % tid, tok, dict(span, granularity="hour"), expect=200)
        compare_series(tid + " jobs/hour", r.json, by_hour, JOB_COUNTERS, start, end, hour)

        # -- per-tenant sign-ups and summary through the tenant's own key (exact, unaffected by
        #    other tests' tenants on the same stack)
        k = scoped[tid]
        for gran, step in (("hour", hour), ("day", day)):
            want = {}
            for (x, key), row in (tr.hours if gran == "hour" else tr.days).items():
                if x == tid:
                    s = key if gran == "hour" else key + "T00:00:00Z"
                    want[s] = {"tenants_created": row["tenants_created"], "users_added": row["users_added"]}
            r = api.get("/v1/metrics/signups", k, dict(span, granularity=gran), expect=200)
            compare_series(tid + " signups/" + gran, r.json, want, ["tenants_created", "users_added"], start, end,
                           step)
        r = api.get("/v1/metrics/summary", k, expect=200)
        s = r.json or {}
        check(s.get("tenants_total") == 1, "%s summary: tenants_total %r" % (tid, s.get("tenants_total")))
        check(s.get("tenants_active") == (0 if t["closed_at"] else 1), "%s summary: tenants_active" % tid)
        check(s.get("users_total") == t["user_count"], "%s summary: users_total" % tid)
        check(s.get("users_added_total") == t["users_added"], "%s summary: users_added_total" % tid)

    # -- all-tenant sign-ups include ours (other tests may share the stack and the dates)
    r = api.get("/v1/metrics/signups", tok, dict(span, granularity="hour"), expect=200)
    want = {}
    for (_, h), row in tr.hours.items():
        w = want.setdefault(h, {"tenants_created": 0, "users_added": 0})
        w["tenants_created"] += row["tenants_created"]
        w["users_added"] += row["users_added"]
    for p in (r.json or {}).get("series", []):
        w = want.get(p["start"], {"tenants_created": 0, "users_added": 0})
        for c in ("tenants_created", "users_added"):
            check(p[c] >= w[c], "all-tenant signups @%s: %s %d < ours %d" % (p["start"], c, p[c], w[c]))

    # -- the list: every page, cursor pagination, sorts and filters
    def all_pages(params, token=tok):
        rows, cursor, pages = [], None, 0
        while True:
            p = dict(params)
            if cursor:
                p["cursor"] = cursor
            r = api.get("/v1/tenants", token, p, expect=200)
            if not r.json:
                break
            rows += r.json["tenants"]
            cursor = r.json["next"]
            pages += 1
            if not cursor or pages > 10000:
                break
        return rows

    for sort in ("tenant_id", "user_count:desc", "last_activity_at", "company_name:asc", "data_size_bytes:asc",
                 "created_at:asc", "churn_score", "sentiment:asc"):
        rows = all_pages({"limit": 3, "sort": sort})
        ids = [x["tenant_id"] for x in rows]
        check(len(ids) == len(set(ids)), "list sort=%s: duplicate rows across pages" % sort)
        check(set(mine) <= set(ids), "list sort=%s: missing %s" % (sort, sorted(set(mine) - set(ids))))
        field, _, direction = sort.partition(":")
        desc = direction == "desc" or (not direction and field not in ("tenant_id", "company_name"))

        def key(x):
            v = x[field]
            if field.endswith("_at"):
                v = parse_ts(v).timestamp() if v else float("-inf")
            if v is None:
                v = float("-inf")
            return v
        for a, b in zip(rows, rows[1:]):
            ka, kb = key(a), key(b)
            if field in ("tenant_id", "company_name"):
                continue  # collation-dependent; checked by the no-duplicates/no-missing property
            ok = (ka > kb or (ka == kb and a["tenant_id"] > b["tenant_id"])) if desc else \
                 (ka < kb or (ka == kb and a["tenant_id"] < b["tenant_id"]))
            check(ok, "list sort=%s: %s before %s out of order" % (sort, a["tenant_id"], b["tenant_id"]))
    for x in all_pages({"limit": 1000}):
        t = tr.tenants.get(x["tenant_id"])
        if t:
            for f in ("user_count", "data_size_bytes", "company_name"):
                check(x[f] == t[f], "list %s: %s = %r, truth %r" % (x["tenant_id"], f, x[f], t[f]))
    closed = [x["tenant_id"] for x in all_pages({"status": "closed", "limit": 1000})]
    check(all(tid in closed for tid in mine if tr.tenants[tid]["closed_at"]), "list status=closed misses ours")
    check(not any(tid in closed for tid in mine if not tr.tenants[tid]["closed_at"]), "status=closed has active")
    some = tr.tenants[mine[0]]
    prefix = some["company_name"][:5].lower()
    got = [x["tenant_id"] for x in all_pages({"q": prefix, "limit": 1000})]
    check(some["tenant_id"] in got, "list q=%s misses %s" % (prefix, some["tenant_id"]))
    for x in all_pages({"q": prefix, "limit": 1000}):
        check(x["company_name"].lower().startswith(prefix), "q=%s matched %r" % (prefix, x["company_name"]))
    got = all_pages({"plan": some["plan"], "industry": some["industry"], "limit": 1000})
    check(some["tenant_id"] in [x["tenant_id"] for x in got], "plan/industry filter misses %s" % some["tenant_id"])
    check(all(x["plan"] == some["plan"] and x["industry"] == some["industry"] for x in got), "plan/industry filter")

    # -- insights over windows ending at the simulation's end
    def alive(t, wstart, wend):
        return parse_ts(t["created_at"]) < wend and (not t["closed_at"] or parse_ts(t["closed_at"]) >= wstart)

    ndays = int((end - start) / day)
    for window, wstart, rows_of in ((("%dd" % ndays), end - ndays * day,
                                     lambda tid, a, b: tr.day_rows(tid, a, b)),
                                    ("24h", end - 24 * hour, lambda tid, a, b: tr.hour_rows(tid, a, b))):
        q = {"window": window, "to": iso(end), "limit": 1000}
        eng = api.get("/v1/insights/engagement", tok, q, expect=200).json or {}
        least = api.get("/v1/insights/least-active", tok, q, expect=200).json or {}
        check(parse_ts(eng.get("from")) == wstart and parse_ts(eng.get("to")) == end, "engagement window bounds")
        eng_rows = {x["tenant_id"]: x for x in eng.get("tenants", [])}
        least_rows = {x["tenant_id"]: x for x in least.get("tenants", [])}
        for tid in mine:
            t = tr.tenants[tid]
            sums = {c: 0 for c in SUMMABLE}
            periods = 0
            for row in rows_of(tid, wstart, end):
                for c in SUMMABLE:
                    sums[c] += row[c]
                periods += 1 if row["events"] else 0
            if not alive(t, wstart, end):
                check(tid not in eng_rows, "engagement %s: listed but not alive in window" % tid)
                continue
            e = eng_rows.get(tid)
            if check(e is not None, "engagement %s %s: missing" % (window, tid)):
                for c in ("logins", "dataset_actions", "jobs_submitted"):
                    check(e[c] == sums[c], "engagement %s %s: %s = %r, truth %r" % (window, tid, c, e[c], sums[c]))
                if sums["logins"]:
                    want = (sums["dataset_actions"] + sums["jobs_submitted"]) / sums["logins"]
                    check(abs(e["actions_per_login"] - want) < 1e-9, "engagement %s: actions_per_login" % tid)
                    check(abs(e["jobs_per_login"] - sums["jobs_submitted"] / sums["logins"]) < 1e-9,
                          "engagement %s: jobs_per_login" % tid)
                else:
                    check(e["actions_per_login"] is None, "engagement %s: ratio without logins" % tid)
            x = least_rows.get(tid)
            if check(x is not None, "least-active %s %s: missing" % (window, tid)):
                act = sums["logins"] + sums["dataset_actions"] + sums["jobs_submitted"]
                check(x["activity"] == act, "least-active %s: activity %r, truth %r" % (tid, x["activity"], act))
                for c in ("logins", "dataset_actions", "jobs_submitted", "sessions", "session_seconds", "events"):
                    check(x[c] == sums[c], "least-active %s %s: %s = %r, truth %r" % (window, tid, c, x[c], sums[c]))
                check(x["active_periods"] == periods, "least-active %s: active_periods" % tid)
        # the documented orders
        er = eng.get("tenants", [])
        for a, b in zip(er, er[1:]):
            ra, rb = a["actions_per_login"], b["actions_per_login"]
            check(ra is not None or rb is None, "engagement: a null ratio before a number")
            if ra is not None and rb is not None:
                check(ra <= rb, "engagement: %s (%r) before %s (%r)" % (a["tenant_id"], ra, b["tenant_id"], rb))
        lr = least.get("tenants", [])
        for a, b in zip(lr, lr[1:]):
            check((a["activity"], a["events"]) <= (b["activity"], b["events"]),
                  "least-active: %s before %s out of order" % (a["tenant_id"], b["tenant_id"]))
    r = api.get("/v1/insights/least-active", tok, {"window": "%dd" % ndays, "to": iso(end), "limit": 2}, expect=200)
    check(len((r.json or {}).get("tenants", [])) <= 2, "least-active: limit ignored")

    # -- data size: at the end of the simulation; the window starts before any data set existed
    q = {"window": "%dd" % ndays, "to": iso(end), "limit": 1000}
    rows = {x["tenant_id"]: x for x in (api.get("/v1/insights/data-size", tok, q, expect=200).json or {}).get(
        "tenants", [])}
    for tid in mine:
        t = tr.tenants[tid]
        x = rows.get(tid)
        if not alive(t, end - ndays * day, end):
            continue
        if check(x is not None, "data-size %s: missing" % tid):
            check(x["data_size_bytes"] == t["data_size_bytes"], "data-size %s: %r, truth %r" % (
                tid, x["data_size_bytes"], t["data_size_bytes"]))
            check(x["data_size_bytes_start"] == 0, "data-size %s: start size %r" % (tid, x["data_size_bytes_start"]))
            check(x["growth_bytes"] == t["data_size_bytes"], "data-size %s: growth" % tid)
    r = api.get("/v1/insights/data-size", tok, dict(q, sort="data_size_bytes:desc"), expect=200)
    sizes = [x["data_size_bytes"] for x in (r.json or {}).get("tenants", [])]
    check(sizes == sorted(sizes, reverse=True), "data-size: not sorted by size desc")
    finish("query truth (%d requests)" % api.calls)


# ------------------------------------------------------------------ isolation

def cmd_isolation(args, api):
    tr = Truth(args.truth)
    mine = sorted(tr.tenants)
    start, end = tr.start, tr.end
    span = {"from": iso(start), "to": iso(end)}
    ndays = max(1, int((end - start) / dt.timedelta(days=1)))
    others_all = set()
    r = api.get("/v1/tenants", args.token, {"limit": 1000}, expect=200)
    for x in (r.json or {}).get("tenants", []):
        others_all.add(x["tenant_id"])
    check(len(set(mine) & others_all) == len(mine), "isolation: the all-tenants key does not see all ours")
    for tid in mine[:args.max_tenants]:
        k = mint_key(args, tid)
        others = (others_all | set(mine)) - {tid}
        # an id is "seen" if it appears as a whole token anywhere in a body
        id_re = re.compile(r"(?<![A-Za-z0-9._-])(%s)(?![A-Za-z0-9._-])" % "|".join(map(re.escape, sorted(others))))
        paths = [("/v1/metrics/summary", {}), ("/v1/metrics/signups", span),
                 ("/v1/metrics/signups", dict(span, granularity="day")),
                 ("/v1/tenants", {"limit": 1000}), ("/v1/tenants", {"limit": 1000, "status": "closed"}),
                 ("/v1/tenants", {"limit": 1000, "sort": "user_count"}),
                 ("/v1/tenants/" + tid, {}), ("/v1/tenants/%s/activity" % tid, span),
                 ("/v1/tenants/%s/jobs" % tid, span),
                 ("/v1/insights/engagement", {"window": "%dd" % ndays, "to": iso(end), "limit": 1000}),
                 ("/v1/insights/least-active", {"window": "%dd" % ndays, "to": iso(end), "limit": 1000}),
                 ("/v1/insights/data-size", {"window": "%dd" % ndays, "to": iso(end), "limit": 1000}),
                 ("/v1/insights/engagement", {"limit": 1000}), ("/v1/insights/least-active", {"limit": 1000})]
        for path, params in paths:
            for accept in (None, "text/csv"):
                r = api.get(path, k, params, accept=accept, expect=200)
                m = id_re.search(r.text)
                check(m is None, "isolation %s: %s %s (%s) shows tenant %s" % (tid, path, params, accept or "json",
                                                                               m and m.group(1)))
            if path in ("/v1/tenants",) or path.startswith("/v1/insights"):
                r = api.get(path, k, params)
                rows = (r.json or {}).get("tenants", [])
                check(all(x["tenant_id"] == tid for x in rows), "isolation %s: %s lists others" % (tid, path))
        r = api.get("/v1/tenants", k, {"limit": 1000})
        check([x["tenant_id"] for x in (r.json or {}).get("tenants", [])] == [tid],
              "isolation %s: own list is not exactly itself" % tid)
        s = api.get("/v1/metrics/summary", k).json or {}
        check(s.get("tenants_total") == 1, "isolation %s: summary counts other tenants" % tid)
        for other in sorted(others)[:args.max_tenants]:
            for sub in ("", "/activity", "/jobs"):
                for accept in (None, "text/csv"):
                    r = api.get("/v1/tenants/" + other + sub, k, accept=accept, expect=404,
                                what="tenant %s key on %s%s" % (tid, other, sub))
                    check(other not in r.text or "no tenant" in r.text, "404 body leaks data")
        # a missing tenant answers exactly like someone else's
        a = api.get("/v1/tenants/" + sorted(others)[0], k)
        b = api.get("/v1/tenants/zz-no-such-tenant", k)
        check((a.status, a.json and a.json.get("error")) == (b.status, b.json and b.json.get("error")),
              "isolation: another tenant and a missing one answer differently")
    # keys without read scope, bad keys
    wk = mint_key(args, mine[0], scopes=("events:write",))
    api.get("/v1/tenants", wk, expect=403, what="write-only key")
    api.get("/v1/tenants", None, expect=401, what="no key")
    api.get("/v1/tenants", "tp_0000000000000000_" + "A" * 43, expect=401, what="unknown key")
    api.get("/v1/tenants", "not-a-key", expect=401, what="malformed key")
    r = api.get("/v1/tenants", None)
    check("Bearer" in (r.headers.get("WWW-Authenticate") or ""), "401 without WWW-Authenticate: Bearer")
    finish("query isolation (%d requests)" % api.calls)


# ------------------------------------------------------------------ bad parameters

INJECT = ["'; drop table tenants;--", "1 OR 1=1", "\" OR \"\"=\"", "%27%20OR%201=1", "$(reboot)", "../../etc/passwd",
          "<script>alert(1)</script>", "1;SELECT pg_sleep(5)", "\u0000", "x" * 300]
HUGE = ["99999999999999999999999", "-1", "1e309", "NaN", "Infinity", "0x10", ""]


def cmd_params(args, api):
    tok = args.token
    tid = args.tenant
    # (path, param, values): every value must be a 400 naming param
    bad_times = ["2026-13-01", "2026-02-30", "yesterday", "2026-01-01T25:00:00Z", "2026-01-01 00:00:00",
                 "1969-12-31", "2200-01-01", "2026-01-01T00:00:00", "1767225600"] + INJECT + HUGE
    table = []
    series_paths = ["/v1/metrics/signups", "/v1/tenants/%s/activity" % tid, "/v1/tenants/%s/jobs" % tid]
    for p in series_paths:
        table += [(p, "from", v, {}) for v in bad_times]
        table += [(p, "to", v, {}) for v in bad_times]
        table += [(p, "granularity", v, {}) for v in ["minute", "HOUR", "week", "hourly"] + INJECT + HUGE]
        table += [(p, "to", "2026-01-01", {"from": "2026-01-02"}),         # to before from
                  (p, "to", "2026-01-01", {"from": "2026-01-01"}),         # empty range
                  (p, "to", "2026-03-01", {"from": "2026-01-01", "granularity": "hour"}),  # > 31 days
                  (p, "to", "2028-01-01", {"from": "2026-01-01", "granularity": "day"}),   # > 400 days
                  (p, "from", "2100-01-01", {})]                           # from after now
    for p in ["/v1/insights/engagement", "/v1/insights/least-active", "/v1/insights/data-size"]:
        table += [(p, "window", v, {}) for v in ["0d", "7", "7w", "366d", "745h", "07d", "-7d", "1.5d", "7D"]
                  + INJECT + HUGE]
        table += [(p, "to", v, {}) for v in bad_times]
        table += [(p, "limit", v, {}) for v in ["0", "1001", "abc", "05", "+5", "1.5"] + INJECT + HUGE]
        table += [(p, "status", v, {}) for v in ["Active", "deleted"] + INJECT]
    table += [("/v1/insights/data-size", "window", "24h", {}),
              ("/v1/insights/data-size", "sort", "logins", {}),
              ("/v1/insights/data-size", "sort", "growth_pct:sideways", {})]
    table += [("/v1/tenants", "limit", v, {}) for v in ["0", "1001", "abc", "05", "+5"] + INJECT + HUGE]
    table += [("/v1/tenants", "sort", v, {}) for v in ["name", "user_count:up", "user_count:", ":asc",
                                                         "user_count desc", "tenant_id,user_count"] + INJECT]
    table += [("/v1/tenants", "status", v, {}) for v in ["deleted", "ACTIVE"] + INJECT + HUGE]
    table += [("/v1/tenants", "plan", v, {}) for v in ["gold", "Free"] + INJECT + HUGE]
    table += [("/v1/tenants", "cursor", v, {}) for v in ["abc", "!!!!", "MQ", "eyJhIjoxfQ"] + INJECT + HUGE]
    table += [("/v1/tenants", "q", v, {}) for v in ["", "x" * 65, "\u0001", "a\nb"]]
    table += [("/v1/tenants", "industry", v, {}) for v in ["", "x" * 65, "a\tb"]]
    for path in ["/v1/metrics/summary", "/v1/metrics/signups", "/v1/tenants", "/v1/tenants/" + tid,
                 "/v1/tenants/%s/activity" % tid, "/v1/tenants/%s/jobs" % tid, "/v1/insights/engagement",
                 "/v1/insights/least-active", "/v1/insights/data-size"]:
        for name in ["foo", "FROM", "tenant_id", "'; drop table x;--", "limit[]", "format"]:
            if path == "/v1/tenants" and name == "limit[]":
                continue
            table.append((path, name, "1", {}))
    n = 0
    for path, name, value, extra in table:
        params = dict(extra)
        params[name] = value
        r = api.get(path, tok, params, what="%s %s=%r" % (path, name, value[:40]))
        n += 1
        body = r.json or {}
        check(r.status == 400, "%s %s=%r: status %d (%s)" % (path, name, value[:40], r.status, r.text[:200]))
        if r.status == 400:
            check(body.get("error") == "invalid_parameter", "%s %s: error code %r" % (path, name, body.get("error")))
            check(body.get("field") == name, "%s %s=%r: field %r" % (path, name, value[:40], body.get("field")))
            check(bool(body.get("message")) and name in body.get("message", ""), "%s %s: message %r" % (
                path, name, body.get("message")))
    # the same parameter twice
    for path in ["/v1/metrics/signups", "/v1/tenants"]:
        q = "limit=1&limit=2" if path == "/v1/tenants" else "from=2026-01-01&from=2026-01-02"
        r = api.get(path, tok, raw_query=q, expect=400)
        check((r.json or {}).get("field") in ("limit", "from"), "%s duplicate parameter not named" % path)
    # malformed path ids
    for bad in ["a%20b", "%27%3B%20drop%20table%20x%3B--", "x" * 65, "t%00", "%C3%28"]:
        for sub in ("", "/activity", "/jobs"):
            r = api.get("/v1/tenants/" + bad + sub, tok, what="id %s%s" % (bad[:20], sub))
            check(r.status in (400, 404), "id %r%s: status %d" % (bad[:20], sub, r.status))
            if r.status == 400:
                check((r.json or {}).get("field") == "id", "id %r: field" % bad[:20])
    # caps are stated in the messages
    r = api.get("/v1/metrics/signups", tok, {"from": "2026-01-01", "to": "2026-03-01", "granularity": "hour"})
    check("31 days" in (r.json or {}).get("message", ""), "hour cap not stated: %r" % r.text[:200])
    r = api.get("/v1/metrics/signups", tok, {"from": "2024-01-01", "to": "2026-01-01", "granularity": "day"})
    check("400 days" in (r.json or {}).get("message", ""), "day cap not stated: %r" % r.text[:200])
    # and good values still work (the table above is not rejecting everything)
    for path, params in [("/v1/tenants", {"limit": "1000", "sort": "user_count:desc", "status": "active"}),
                         ("/v1/tenants", {"q": "O'Brien; drop table x", "industry": "x' OR '1'='1"}),
                         ("/v1/metrics/signups", {"from": "2026-01-01T00:00:00+02:00", "to": "2026-01-31",
                                                  "granularity": "hour"}),
                         ("/v1/insights/engagement", {"window": "744h", "limit": "1"}),
                         ("/v1/insights/least-active", {"window": "365d", "limit": "1000"}),
                         ("/v1/insights/data-size", {"window": "1d", "sort": "growth_pct:asc"}),
                         ("/v1/tenants/%s/activity" % tid, {"from": "2026-01-01", "to": "2027-02-05"})]:
        api.get(path, tok, params, expect=200)
    r = api.get("/v1/tenants", tok, {"q": "O'Brien; drop table x", "industry": "x' OR '1'='1"})
    check((r.json or {}).get("tenants") == [], "injection-looking filter values matched rows")
    print("params: %d bad requests" % n)
    finish("query params (%d requests)" % api.calls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["wait", "truth", "isolation", "params"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True, help="an all-tenants read key")
    ap.add_argument("--truth")
    ap.add_argument("--tenant", help="params: an existing tenant id")
    ap.add_argument("--spec", help="openapi/query.yaml: validate every JSON answer against it")
    ap.add_argument("--source-dir", default=".")
    ap.add_argument("--ingest-url")
    ap.add_argument("--admin-token")
    ap.add_argument("--keys-bin")
    ap.add_argument("--max-tenants", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=150, help="wait: give up after this many seconds")
    ap.add_argument("--stall", type=int, default=60, help="wait: give up when nothing new shows for this long")
    ap.add_argument("--processor-url", help="wait: fail as soon as the stream processor is not ready")
    args = ap.parse_args()
    spec = Spec(load_spec(args.spec, args.source_dir)) if args.spec else None
    api = Api(args.url, spec)
    {"wait": cmd_wait, "truth": cmd_truth, "isolation": cmd_isolation, "params": cmd_params}[args.command](args, api)


if __name__ == "__main__":
    main()
