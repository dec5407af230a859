#!/usr/bin/env python3
"""Independent reference for the 110 statistics: loads an import CSV into an
in-memory SQLite table and computes the figures with plain SQL and Python
(standard library only; nothing shared with the Rust code).

    python3 tests/stats/reference.py stats --csv F [--from D] [--to D] --by month,unit [--format json]
    python3 tests/stats/reference.py speed --csv F --kind ack|depart|feedback [--from D] [--to D]
    python3 tests/stats/reference.py check --csv F          # validate every row, list the bad ones
    python3 tests/stats/reference.py compare A.json B.json  # exit 1 with the first differing rows
    python3 tests/stats/reference.py report --csv F --period 2026-W48|2026-11|2026-Q4|2026
    python3 tests/stats/reference.py compare-report HUB.json REF.json  # every figure; exit 1 if any differs

Rows are checked against the import contract first; an invalid row stops the
run (exit 2) unless --skip-invalid is given, which leaves it out.
"""

import argparse
import csv
import datetime as dt
import json
import re
import sqlite3
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DICTS = ROOT / "crates" / "jingwu-core" / "data" / "dictionaries.json"

HEADER = [
    "接警单编号", "报警时间", "报警方式", "报警人", "联系电话", "案发地点", "乡镇代码",
    "警情类别代码", "警情级别", "报警内容", "管辖单位代码", "派警时间", "签收时间",
    "出警时间", "到达时间", "反馈时间", "终结时间", "处警结果代码", "受伤人数",
    "死亡人数", "损失金额", "是否有效",
]
STEPS = ["派警时间", "签收时间", "出警时间", "到达时间", "反馈时间"]
# The dispatch targets of bureau 522634000000: 9 stations, 110巡警, 交警, 消防.
UNITS = {f"5226345{i}0000" for i in range(1, 10)} | {"522634080000", "522634090000", "522634100000"}

TIME_DIMS = ["day", "week", "month", "quarter", "year"]
DIMS = TIME_DIMS + ["unit", "category", "township"]
MEASURES = ["count", "valid", "loss_fen", "injured", "dead"]

BUCKETS = {
    "ack": [(0, "0-30s"), (30, "30-60s"), (60, "60-120s"), (120, "120-180s"), (180, ">180s")],
    "depart": [(0, "0-5m"), (300, "5-10m"), (600, "10-15m"), (900, "15-30m"), (1800, ">30m")],
    "feedback": [(0, "0-30m"), (1800, "30-60m"), (3600, "1-2h"), (7200, "2-4h"), (14400, ">4h")],
}
SPEED_END = {"ack": "签收时间", "depart": "出警时间", "feedback": "反馈时间"}

RE_ID = re.compile(r"[A-Za-z0-9-]{1,40}", re.ASCII)
RE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
RE_PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-\d{7,8}|无", re.ASCII)
RE_MONEY = re.compile(r"(\d+)(?:\.(\d{1,2}))?", re.ASCII)
RE_COUNT = re.compile(r"\d+", re.ASCII)
VALID = {"1": 1, "是": 1, "0": 0, "否": 0}


class BadRow(ValueError):
    pass


def die(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def dictionaries():
    d = {x["id"]: {e["code"] for e in x["entries"]} for x in json.loads(DICTS.read_text("utf-8"))}
    return {
        "method": d["alarm_method"], "category": d["alarm_category"], "level": d["incident_level"],
        "township": d["township"], "result": d["handling_result"],
    }


def parse_time(text, col):
    if not RE_TIME.fullmatch(text):
        raise BadRow(f"{col} 格式应为 YYYY-MM-DD HH:MM:SS：{text!r}")
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRow(f"{col} 不是有效时间：{text!r}") from None


def to_fen(text):
    """损失金额 (yuan, at most 2 decimals, empty = 0) in fen, exactly."""
    if text == "":
        return 0
    m = RE_MONEY.fullmatch(text)
    if not m:
        raise BadRow(f"损失金额 应为不超过两位小数的非负数：{text!r}")
    return int(m.group(1)) * 100 + int((m.group(2) or "").ljust(2, "0"))


def to_count(text, col):
    if text == "":
        return 0
    if not RE_COUNT.fullmatch(text):
        raise BadRow(f"{col} 应为非负整数：{text!r}")
    return int(text)


def parse_row(row, codes):
    """A checked record (dict), or BadRow saying why not."""
    if len(row) != len(HEADER):
        raise BadRow(f"应有 {len(HEADER)} 列，实有 {len(row)} 列")
    v = dict(zip(HEADER, row))
    if not RE_ID.fullmatch(v["接警单编号"]):
        raise BadRow(f"接警单编号 不合格式：{v['接警单编号']!r}")
    alarm = parse_time(v["报警时间"], "报警时间")
    for col, key in [("报警方式", "method"), ("乡镇代码", "township"), ("警情类别代码", "category"),
                     ("管辖单位代码", None)]:
        ok = v[col] in (codes[key] if key else UNITS)
        if not ok:
            raise BadRow(f"{col} 不存在：{v[col]!r}")
    if v["警情级别"] and v["警情级别"] not in codes["level"]:
        raise BadRow(f"警情级别 不存在：{v['警情级别']!r}")
    if not RE_PHONE.fullmatch(v["联系电话"]):
        raise BadRow(f"联系电话 不合格式：{v['联系电话']!r}")
    steps = []
    prev, prev_col = alarm, "报警时间"
    gap = None
    for col in STEPS:
        if v[col] == "":
            gap = gap or col
            steps.append(None)
            continue
        if gap:
            raise BadRow(f"{col} 已填而 {gap} 为空")
        t = parse_time(v[col], col)
        if t < prev:
            raise BadRow(f"{col} 早于 {prev_col}")
        prev, prev_col = t, col
        steps.append(t)
    if v["终结时间"]:
        end = parse_time(v["终结时间"], "终结时间")
        if steps[0] is not None and steps[4] is None:
            raise BadRow("已派警但未反馈，不能有终结时间")
        if end < prev:
            raise BadRow(f"终结时间 早于 {prev_col}")
    has_result = v["处警结果代码"] != ""
    if has_result != (steps[4] is not None):
        raise BadRow("处警结果代码 须与反馈时间同时填写")
    if has_result and v["处警结果代码"] not in codes["result"]:
        raise BadRow(f"处警结果代码 不存在：{v['处警结果代码']!r}")
    if v["是否有效"] not in VALID:
        raise BadRow(f"是否有效 应为 1/0/是/否：{v['是否有效']!r}")
    return {
        "id": v["接警单编号"],
        "alarm": alarm,
        "unit": v["管辖单位代码"],
        "category": v["警情类别代码"][:2] + "0000",
        "township": v["乡镇代码"],
        "valid": VALID[v["是否有效"]],
        "loss_fen": to_fen(v["损失金额"]),
        "injured": to_count(v["受伤人数"], "受伤人数"),
        "dead": to_count(v["死亡人数"], "死亡人数"),
        "steps": steps,
        "end": v["终结时间"] != "",
    }


def read_rows(path, skip_invalid=False):
    """(records, problems); problems = [(line, message)]."""
    codes = dictionaries()
    records, problems, seen = [], [], {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != HEADER:
            die(f"{path}: 表头不符，应为：{','.join(HEADER)}")
        for row in reader:
            line = reader.line_num
            try:
                rec = parse_row(row, codes)
                if rec["id"] in seen:
                    raise BadRow(f"接警单编号 {rec['id']} 与第 {seen[rec['id']]} 行重复")
                seen[rec["id"]] = line
                records.append(rec)
            except BadRow as e:
                problems.append((line, str(e)))
                if not skip_invalid:
                    die(f"{path} 第 {line} 行：{e}（用 --skip-invalid 跳过无效行）")
    return records, problems


def periods(t):
    d = t.date()
    iso = d.isocalendar()
    return {
        "day": d.isoformat(),
        "week": f"{iso[0]:04d}-W{iso[1]:02d}",
        "month": f"{d.year:04d}-{d.month:02d}",
        "quarter": f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}",
        "year": f"{d.year:04d}",
    }


# The status an imported record is in: archived with 终结时间, else the last
# step reached (received when never dispatched).
STEP_STATUS = ["dispatched", "acknowledged", "departed", "arrived", "feedback_filed"]


def status_of(r):
    if r["end"]:
        return "archived"
    reached = [st for st, t in zip(STEP_STATUS, r["steps"]) if t is not None]
    return reached[-1] if reached else "received"


def load(path, skip_invalid=False):
    """An in-memory SQLite db with table incident (one row per record)."""
    records, _ = read_rows(path, skip_invalid)
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE incident (id TEXT PRIMARY KEY, day TEXT, week TEXT, month TEXT, quarter TEXT,"
        " year TEXT, unit TEXT, category TEXT, township TEXT, valid INTEGER, loss_fen INTEGER,"
        " injured INTEGER, dead INTEGER, ack INTEGER, depart INTEGER, feedback INTEGER,"
        " status TEXT)")

    def secs(a, b):
        return None if a is None or b is None else int((b - a).total_seconds())

    def tuples():
        for r in records:
            p = periods(r["alarm"])
            d, a, o, _, f = r["steps"]
            yield (r["id"], p["day"], p["week"], p["month"], p["quarter"], p["year"], r["unit"],
                   r["category"], r["township"], r["valid"], r["loss_fen"], r["injured"], r["dead"],
                   secs(d, a), secs(d, o), secs(d, f), status_of(r))

    db.executemany("INSERT INTO incident VALUES (" + ",".join("?" * 17) + ")", tuples())
    return db


def _range(date_from, date_to):
    where, args = [], []
    if date_from:
        where.append("day >= ?")
        args.append(dt.date.fromisoformat(date_from).isoformat())
    if date_to:
        where.append("day <= ?")
        args.append(dt.date.fromisoformat(date_to).isoformat())
    return where, args


def check_by(by):
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    for b in by:
        if b not in DIMS:
            die(f"未知维度：{b}（可选 {', '.join(DIMS)}）")
    if len(set(by)) != len(by):
        die("维度不能重复")
    if sum(b in TIME_DIMS for b in by) > 1:
        die("时间维度最多一个")
    return by


def stats(csv_path, date_from=None, date_to=None, by=(), db=None, skip_invalid=False):
    """One dict per non-empty group: the dimensions of `by` then the 5 measures,
    sorted ascending by the dimension values in the order of `by`."""
    by = check_by(by)
    db = db or load(csv_path, skip_invalid)
    where, args = _range(date_from, date_to)
    cols = ", ".join(by + ["COUNT(*)", "SUM(valid)", "SUM(loss_fen)", "SUM(injured)", "SUM(dead)"])
    sql = f"SELECT {cols} FROM incident"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if by:
        sql += " GROUP BY " + ", ".join(by) + " ORDER BY " + ", ".join(by)
    out = []
    for row in db.execute(sql, args):
        if row[len(by)] == 0:  # no GROUP BY over no rows: no group at all
            continue
        out.append(dict(zip(by + MEASURES, row)))
    out.sort(key=lambda r: [r[b] for b in by])  # byte order of the strings, as SQLite's BINARY
    return out


def speed(csv_path, kind, date_from=None, date_to=None, db=None, skip_invalid=False):
    """[{unit, bucket, count}]: for each unit with a measured row, all 5 buckets."""
    if kind not in BUCKETS:
        die(f"未知时效类型：{kind}（可选 ack, depart, feedback）")
    db = db or load(csv_path, skip_invalid)
    where, args = _range(date_from, date_to)
    where.append(f"{kind} IS NOT NULL")
    edges = BUCKETS[kind]
    case = "CASE " + " ".join(
        f"WHEN {kind} >= {lo} THEN {i}" for i, (lo, _) in reversed(list(enumerate(edges)))) + " END"
    sql = (f"SELECT unit, {case} AS b, COUNT(*) FROM incident WHERE {' AND '.join(where)}"
           f" GROUP BY unit, b")
    got = {}
    for unit, b, n in db.execute(sql, args):
        if b is None:
            die(f"{unit} 有负的时长（{kind}）")
        got.setdefault(unit, [0] * len(edges))[b] = n
    return [{"unit": u, "bucket": name, "count": got[u][i]}
            for u in sorted(got) for i, (_, name) in enumerate(edges)]


# --- percentages: one decimal, half away from zero, from the exact ratio ---
def _tenths(ratio):
    """Fraction -> Fraction rounded to 0.1, half away from zero."""
    t = abs(ratio) * 10
    n = (t.numerator * 2 + t.denominator) // (t.denominator * 2)  # floor(t + 1/2)
    return Fraction(-n if ratio < 0 else n, 10)


def _out(tenths):
    n = tenths * 10
    return Decimal(int(n)).scaleb(-1)  # e.g. Decimal('12.5'), Decimal('-3.0'), never -0.0


def pct_change(cur, base):
    """(cur − base) / base × 100 to one decimal (Decimal), None where base = 0."""
    if base == 0:
        return None
    return _out(_tenths((Fraction(cur) - Fraction(base)) * 100 / Fraction(base)))


def share(part, total):
    """part / total × 100 to one decimal (Decimal), None where total = 0."""
    if total == 0:
        return None
    return _out(_tenths(Fraction(part) * 100 / Fraction(total)))


# --- the 警情通报 ----------------------------------------------------------------
ORG = ROOT / "crates" / "jingwu-core" / "data" / "leishan-org.json"
PERIOD_KINDS = ["day", "week", "month", "quarter", "year"]
UNFINISHED = ["received", "dispatched", "acknowledged", "departed", "arrived", "feedback_filed",
              "concluded"]
STATUS_LABEL = {"received": "受理", "dispatched": "已下达", "acknowledged": "已签收",
                "departed": "已出警", "arrived": "已到达现场", "feedback_filed": "已反馈",
                "concluded": "已终结"}
SPEED_LABEL = {"ack": "签收速度", "depart": "出警速度", "feedback": "反馈速度"}
RE_PERIOD = {
    "year": re.compile(r"(\d{4})", re.ASCII),
    "week": re.compile(r"(\d{4})-W(\d{2})", re.ASCII),
    "quarter": re.compile(r"(\d{4})-Q(\d)", re.ASCII),
    "month": re.compile(r"(\d{4})-(\d{2})", re.ASCII),
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII),
}


class BadPeriod(ValueError):
    pass


def _month_end(y, m):
    return (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))


def period_holding(kind, d):
    """(kind, first, last) of the period of `kind` that holds date `d`."""
    if kind == "day":
        return kind, d, d
    if kind == "week":
        first = d - dt.timedelta(days=d.weekday())  # Monday
        return kind, first, first + dt.timedelta(days=6)
    if kind == "month":
        return kind, d.replace(day=1), _month_end(d.year, d.month)
    if kind == "quarter":
        q0 = (d.month - 1) // 3 * 3 + 1
        return kind, dt.date(d.year, q0, 1), _month_end(d.year, q0 + 2)
    return kind, dt.date(d.year, 1, 1), dt.date(d.year, 12, 31)


def parse_period(text):
    """`2026-W48`, `2026-11`, `2026-Q4`, `2026` (or a day `2026-11-30`)."""
    t = text.strip()
    try:
        for kind, rx in RE_PERIOD.items():
            m = rx.fullmatch(t)
            if not m:
                continue
            y = int(m.group(1))
            if not 1900 <= y <= 9999:
                break
            if kind == "year":
                d = dt.date(y, 1, 1)
            elif kind == "week":
                d = dt.date.fromisocalendar(y, int(m.group(2)), 1)
            elif kind == "quarter":
                q = int(m.group(2))
                if not 1 <= q <= 4:
                    break
                d = dt.date(y, 3 * q - 2, 1)
            elif kind == "month":
                d = dt.date(y, int(m.group(2)), 1)
            else:
                d = dt.date(y, int(m.group(2)), int(m.group(3)))
            return period_holding(kind, d)
    except (ValueError, OverflowError):
        pass
    raise BadPeriod(f"统计期“{text}”无效，应为 2026-W48（周）、2026-11（月）、2026-Q4（季）或 2026（年）")


def period_key(p):
    kind, first, _ = p
    return periods(dt.datetime.combine(first, dt.time()))[kind]


def period_previous(p):
    """The period just before (环比)."""
    return period_holding(p[0], p[1] - dt.timedelta(days=1))


def period_year_earlier(p):
    """The same period one year earlier (同比): the same ISO week number of the
    ISO year before (its week 52 when it has no week 53), else the same
    calendar day / month / quarter / year of the year before (29 Feb → 28 Feb)."""
    kind, first, _ = p
    if kind == "week":
        y, w, _ = first.isocalendar()
        try:
            d = dt.date.fromisocalendar(y - 1, w, 1)
        except ValueError:
            d = dt.date.fromisocalendar(y - 1, 52, 1)
        return period_holding(kind, d)
    try:
        d = first.replace(year=first.year - 1)
    except ValueError:  # 29 February
        d = dt.date(first.year - 1, first.month, first.day - 1)
    return period_holding(kind, d)


def period_title(p):
    kind, f, last = p
    if kind == "day":
        return f"{f.year}年{f.month}月{f.day}日"
    if kind == "week":
        y, w, _ = f.isocalendar()
        return f"{y}年第{w}周（{f.month}月{f.day}日—{last.month}月{last.day}日）"
    if kind == "month":
        return f"{f.year}年{f.month}月"
    if kind == "quarter":
        return f"{f.year}年第{'一二三四'[(f.month - 1) // 3]}季度"
    return f"{f.year}年"


def _names():
    """Labels for codes (only for reading the output; compare-report ignores them)."""
    dicts = json.loads(DICTS.read_text("utf-8"))
    labels = {x["id"]: {e["code"]: e["label"] for e in x["entries"]} for x in dicts}
    org = json.loads(ORG.read_text("utf-8"))
    units = {u["code"]: u["name"] for u in org.get("units", [])}
    bureau = next((u["name"] for u in org.get("units", []) if u.get("kind") == "bureau"),
                  org.get("name", ""))
    return labels, units, bureau


def _measures(db, first, last, col=None):
    """{key: measures} of the records whose 报警 date is in [first, last],
    grouped by `col` (one key None without)."""
    group = f"{col}, " if col else "NULL, "
    sql = (f"SELECT {group}COUNT(*), COALESCE(SUM(valid), 0), COALESCE(SUM(loss_fen), 0),"
           f" COALESCE(SUM(injured), 0), COALESCE(SUM(dead), 0) FROM incident"
           f" WHERE day BETWEEN ? AND ?" + (f" GROUP BY {col}" if col else ""))
    return {row[0]: dict(zip(MEASURES, row[1:]))
            for row in db.execute(sql, (first.isoformat(), last.isoformat()))}


def _mean(total_secs, n):
    return None if n == 0 else _out(_tenths(Fraction(total_secs, n)))


def _speed_table(db, kind, first, last, unit_name):
    edges = BUCKETS[kind]
    case = "CASE " + " ".join(
        f"WHEN {kind} >= {lo} THEN {i}" for i, (lo, _) in reversed(list(enumerate(edges)))) + " END"
    where = f"day BETWEEN ? AND ? AND {kind} IS NOT NULL"
    args = (first.isoformat(), last.isoformat())
    per = {}  # unit -> (counts, Σ secs)
    for unit, b, n, secs in db.execute(
            f"SELECT unit, {case} AS b, COUNT(*), SUM({kind}) FROM incident WHERE {where}"
            f" GROUP BY unit, b", args):
        if b is None:
            die(f"{unit} 有负的时长（{kind}）")
        counts, total = per.setdefault(unit, ([0] * len(edges), [0]))
        counts[b] += n
        total[0] += secs
    # The overall line straight from the table, not as the sum of the units.
    all_counts = [0] * len(edges)
    for b, n in db.execute(f"SELECT {case} AS b, COUNT(*) FROM incident WHERE {where} GROUP BY b",
                           args):
        all_counts[b] = n
    all_secs = db.execute(f"SELECT COALESCE(SUM({kind}), 0) FROM incident WHERE {where}",
                          args).fetchone()[0]

    def line(unit, counts, secs):
        total = sum(counts)
        return {"unit": unit, "name": unit_name(unit) if unit else "合计", "total": total,
                "counts": counts, "shares_pct": [share(c, total) for c in counts],
                "mean_secs": _mean(secs, total)}

    units = [line(u, per[u][0], per[u][1][0]) for u in sorted(per)]
    measured = [u for u in sorted(per) if sum(per[u][0]) > 0]
    # Highest exact mean first (Σ/n as a fraction), ties by code ascending.
    measured.sort(key=lambda u: (-Fraction(per[u][1][0], sum(per[u][0])), u))
    return {
        "kind": kind, "label": SPEED_LABEL[kind], "buckets": [name for _, name in edges],
        "units": units, "overall": line("", all_counts, all_secs),
        "slowest": [line(u, per[u][0], per[u][1][0]) for u in measured[:3]],
    }


def report(csv_path, period, db=None, skip_invalid=False, now=None):
    """The 警情通报 of `period` (text) over every record of the CSV, in the
    JSON shape of jingwu_core::stats::Report."""
    p = parse_period(period) if isinstance(period, str) else period
    db = db or load(csv_path, skip_invalid)
    labels, units, bureau = _names()
    prev, ly = period_previous(p), period_year_earlier(p)
    spans = [p, prev, ly]
    zero = dict.fromkeys(MEASURES, 0)

    # No GROUP BY: exactly one row, zeros over no records (COALESCE).
    cur_m, prev_m, ly_m = (_measures(db, q[1], q[2])[None] for q in spans)

    def changes(a, b):
        return {k: pct_change(a[k], b[k]) for k in MEASURES}

    def lines(col, codes, label):
        maps = [_measures(db, q[1], q[2], col) for q in spans]
        if codes is None:
            codes = sorted(maps[0])
        out = []
        for code in codes:
            cur, pm, lm = (mp.get(code, zero) for mp in maps)
            out.append({"code": code, "name": label(code), **cur,
                        "share_pct": share(cur["count"], cur_m["count"]),
                        "mom_pct": pct_change(cur["count"], pm["count"]),
                        "yoy_pct": pct_change(cur["count"], lm["count"])})
        return out

    cats = {c for c in labels["alarm_category"] if len(c) == 6 and c.endswith("0000")}
    cats |= {r[0] for r in db.execute("SELECT DISTINCT category FROM incident WHERE day BETWEEN ? AND ?",
                                      (p[1].isoformat(), p[2].isoformat()))}
    cat_label = labels["alarm_category"].get
    town_label = labels["township"].get
    unfinished = dict(db.execute(
        "SELECT status, COUNT(*) FROM incident WHERE day BETWEEN ? AND ? AND status <> 'archived'"
        " GROUP BY status", (p[1].isoformat(), p[2].isoformat())).fetchall())
    unknown = set(unfinished) - set(UNFINISHED)
    if unknown:
        die(f"未知状态：{', '.join(sorted(unknown))}")
    now = now or dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    return {
        "title": f"{bureau}警情通报（{period_title(p)}）",
        "period": period_key(p),
        "kind": p[0],
        "from": p[1].isoformat(),
        "to": p[2].isoformat(),
        "previous_period": period_key(prev),
        "year_earlier_period": period_key(ly),
        "scope": bureau,
        "generated_at": now.isoformat(timespec="seconds"),
        "totals": {"current": cur_m, "previous": prev_m, "year_earlier": ly_m,
                   "mom_pct": changes(cur_m, prev_m), "yoy_pct": changes(cur_m, ly_m)},
        "by_category": lines("category", sorted(cats), lambda c: cat_label(c, c)),
        "by_unit": lines("unit", None, lambda c: units.get(c, c)),
        "by_township": lines("township", None, lambda c: town_label(c, c)),
        "speed": [_speed_table(db, k, p[1], p[2], lambda c: units.get(c, c)) for k in BUCKETS],
        "unfinished": [{"status": st, "label": STATUS_LABEL[st], "count": unfinished.get(st, 0)}
                       for st in UNFINISHED],
        "unfinished_total": sum(unfinished.values()),
    }


# --- compare -----------------------------------------------------------------
def _norm(x):
    # Numbers compare by value (1 == 1.0; 12.5 from either side), the rest as is.
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, (int, float)):
        return Fraction(x) if isinstance(x, int) else Fraction(str(x))
    if isinstance(x, list):
        return [_norm(v) for v in x]
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    return x


def compare(a, b, name_a="A", name_b="B", show=5):
    """Lines describing how two JSON arrays differ ([] when equal)."""
    if not isinstance(a, list) or not isinstance(b, list):
        return [f"{name_a} 和 {name_b} 都应是 JSON 数组"]
    lines = []
    if len(a) != len(b):
        lines.append(f"行数不同：{name_a} {len(a)} 行，{name_b} {len(b)} 行")
    shown = 0
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if _norm(x) == _norm(y):
            continue
        lines.append(f"第 {i + 1} 行不同：")
        lines.append(f"  {name_a}: {json.dumps(x, ensure_ascii=False)}")
        lines.append(f"  {name_b}: {json.dumps(y, ensure_ascii=False)}")
        if isinstance(x, dict) and isinstance(y, dict):
            keys = [k for k in list(x) + [k for k in y if k not in x] if _norm(x.get(k)) != _norm(y.get(k))]
            lines.append("  不同的字段：" + ", ".join(
                f"{k} ({json.dumps(x.get(k), ensure_ascii=False)} ≠ {json.dumps(y.get(k), ensure_ascii=False)})"
                for k in keys))
        shown += 1
        if shown >= show:
            lines.append("……（其余从略）")
            break
    return lines


# Text from names, labels and the time of generation: not figures.
REPORT_IGNORED = {"title", "scope", "generated_at", "name", "label"}
_IDENTITY = ("code", "unit", "status", "kind")


def _ident(x):
    if isinstance(x, dict):
        for k in _IDENTITY:
            if k in x:
                return x[k]
    return None


def _show(x):
    if isinstance(x, (Fraction, Decimal)):
        return str(x)
    return json.dumps(x, ensure_ascii=False, default=str)


def compare_report(a, b, name_a="A", name_b="B"):
    """Every difference of figures between two reports, as lines `path: …`
    (names, labels, title, scope and generated_at left out)."""
    out = []

    def walk(x, y, path):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in list(x) + [k for k in y if k not in x]:
                if k in REPORT_IGNORED:
                    continue
                sub = f"{path}.{k}" if path else k
                if k not in y:
                    out.append(f"{sub}: 只有 {name_a} 有（{_show(x[k])}）")
                elif k not in x:
                    out.append(f"{sub}: 只有 {name_b} 有（{_show(y[k])}）")
                else:
                    walk(x[k], y[k], sub)
        elif isinstance(x, list) and isinstance(y, list):
            ids_x, ids_y = [_ident(v) for v in x], [_ident(v) for v in y]
            keyed = all(i is not None for i in ids_x + ids_y)
            if keyed and ids_x != ids_y:
                # Lines keyed by code / unit / status: say which are missing or
                # out of order, then compare those on both sides by key.
                only_x = [i for i in ids_x if i not in ids_y]
                only_y = [i for i in ids_y if i not in ids_x]
                what = []
                if only_x:
                    what.append(f"只有 {name_a} 有 {_show(only_x)}")
                if only_y:
                    what.append(f"只有 {name_b} 有 {_show(only_y)}")
                if not what:
                    what.append("顺序不同")
                out.append(f"{path}: 行不同（{'；'.join(what)}）：{name_a} {_show(ids_x)}；"
                           f"{name_b} {_show(ids_y)}")
                by_y = dict(zip(ids_y, y))
                for i, v in zip(ids_x, x):
                    if i in by_y:
                        walk(v, by_y[i], f"{path}[{_show(i)}]")
                return
            if len(x) != len(y):
                out.append(f"{path}: 项数不同：{name_a} {len(x)}，{name_b} {len(y)}")
            for n, (v, w) in enumerate(zip(x, y)):
                i = _ident(v)
                walk(v, w, f"{path}[{_show(i) if i is not None else n}]")
        elif _norm(x) != _norm(y):
            out.append(f"{path}: {name_a} {_show(x)} ≠ {name_b} {_show(y)}")

    if not isinstance(a, dict) or not isinstance(b, dict):
        return [f"{name_a} 和 {name_b} 都应是警情通报的 JSON 对象"]
    walk(a, b, "")
    return out


def dump(value):
    def default(o):
        if isinstance(o, Decimal):
            return float(o)
        raise TypeError(type(o))
    return json.dumps(value, ensure_ascii=False, indent=1, default=default)


def main(argv=None):
    p = argparse.ArgumentParser(description="110 统计的独立参考计算")
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--csv", required=True, help="导入用 CSV")
        sp.add_argument("--from", dest="date_from", help="起始日期 YYYY-MM-DD（含）")
        sp.add_argument("--to", dest="date_to", help="截止日期 YYYY-MM-DD（含）")
        sp.add_argument("--skip-invalid", action="store_true", help="跳过不合规的行（默认报错）")

    s = sub.add_parser("stats", help="按维度汇总")
    common(s)
    s.add_argument("--by", default="", help="维度，逗号分隔：" + ",".join(DIMS))
    s.add_argument("--format", default="json", choices=["json"])
    sp = sub.add_parser("speed", help="处警时效分段")
    common(sp)
    sp.add_argument("--kind", required=True, choices=list(BUCKETS))
    sp.add_argument("--by", default="unit", choices=["unit"])
    sp.add_argument("--format", default="json", choices=["json"])
    ck = sub.add_parser("check", help="逐行校验 CSV")
    ck.add_argument("--csv", required=True)
    c = sub.add_parser("compare", help="比较两个 JSON 数组")
    c.add_argument("a")
    c.add_argument("b")
    r = sub.add_parser("report", help="警情通报的各项数字（JSON）")
    r.add_argument("--csv", required=True, help="导入用 CSV")
    r.add_argument("--period", required=True, help="统计期：2026-W48、2026-11、2026-Q4 或 2026")
    r.add_argument("--skip-invalid", action="store_true", help="跳过不合规的行（默认报错）")
    cr = sub.add_parser("compare-report", help="比较两份警情通报 JSON 的各项数字")
    cr.add_argument("a", help="枢纽生成的 JSON")
    cr.add_argument("b", help="本脚本生成的 JSON")
    cr.add_argument("--show", type=int, default=20, help="最多列出多少处不同（默认 20）")
    a = p.parse_args(argv)

    if a.cmd == "stats":
        print(dump(stats(a.csv, a.date_from, a.date_to, a.by, skip_invalid=a.skip_invalid)))
    elif a.cmd == "speed":
        print(dump(speed(a.csv, a.kind, a.date_from, a.date_to, skip_invalid=a.skip_invalid)))
    elif a.cmd == "check":
        records, problems = read_rows(a.csv, skip_invalid=True)
        for line, msg in problems:
            print(f"第 {line} 行：{msg}")
        print(f"合规 {len(records)} 行，不合规 {len(problems)} 行")
        return 1 if problems else 0
    elif a.cmd == "report":
        try:
            print(dump(report(a.csv, a.period, skip_invalid=a.skip_invalid)))
        except BadPeriod as e:
            die(str(e))
    else:
        docs = []
        for f in (a.a, a.b):
            try:
                docs.append(json.loads(Path(f).read_text("utf-8")))
            except (OSError, ValueError) as e:
                print(f"读不了 {f}：{e}", file=sys.stderr)
                return 2
        if a.cmd == "compare-report":
            diff = compare_report(docs[0], docs[1], a.a, a.b)
            if diff:
                print(f"{a.a} 与 {a.b} 有 {len(diff)} 处不同" + (f"，前 {a.show} 处：" if len(diff) > a.show else "："))
                print("\n".join("  " + d for d in diff[:a.show]))
                return 1
            print(f"一致：{docs[0].get('period')} 的各项数字相同")
            return 0
        diff = compare(docs[0], docs[1], a.a, a.b)
        if diff:
            print("\n".join(diff))
            return 1
        print(f"一致：{len(docs[0])} 行")
    return 0


if __name__ == "__main__":
    sys.exit(main())
