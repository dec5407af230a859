#!/usr/bin/env python3
"""Independent reference for the 110 statistics: loads an import CSV into an
in-memory SQLite table and computes the figures with plain SQL and Python
(standard library only; nothing shared with the Rust code).

    python3 tests/stats/reference.py stats --csv F [--from D] [--to D] --by month,unit [--format json]
    python3 tests/stats/reference.py speed --csv F --kind ack|depart|feedback [--from D] [--to D]
    python3 tests/stats/reference.py check --csv F          # validate every row, list the bad ones
    python3 tests/stats/reference.py compare A.json B.json  # exit 1 with the first differing rows

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


def load(path, skip_invalid=False):
    """An in-memory SQLite db with table incident (one row per record)."""
    records, _ = read_rows(path, skip_invalid)
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE incident (id TEXT PRIMARY KEY, day TEXT, week TEXT, month TEXT, quarter TEXT,"
        " year TEXT, unit TEXT, category TEXT, township TEXT, valid INTEGER, loss_fen INTEGER,"
        " injured INTEGER, dead INTEGER, ack INTEGER, depart INTEGER, feedback INTEGER)")

    def secs(a, b):
        return None if a is None or b is None else int((b - a).total_seconds())

    def tuples():
        for r in records:
            p = periods(r["alarm"])
            d, a, o, _, f = r["steps"]
            yield (r["id"], p["day"], p["week"], p["month"], p["quarter"], p["year"], r["unit"],
                   r["category"], r["township"], r["valid"], r["loss_fen"], r["injured"], r["dead"],
                   secs(d, a), secs(d, o), secs(d, f))

    db.executemany("INSERT INTO incident VALUES (" + ",".join("?" * 16) + ")", tuples())
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
    else:
        docs = []
        for f in (a.a, a.b):
            try:
                docs.append(json.loads(Path(f).read_text("utf-8")))
            except (OSError, ValueError) as e:
                print(f"读不了 {f}：{e}", file=sys.stderr)
                return 2
        diff = compare(docs[0], docs[1], a.a, a.b)
        if diff:
            print("\n".join(diff))
            return 1
        print(f"一致：{len(docs[0])} 行")
    return 0


if __name__ == "__main__":
    sys.exit(main())
