"""Self-test of tests/stats/reference.py (and a quick one of scripts/gen-incidents.py)
on a hand-made CSV whose figures are worked out by hand below.

    python3 -m unittest tests/stats/test_reference.py
"""

import csv
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import reference as ref  # noqa: E402

H = ref.HEADER
PS, PATROL, TRAFFIC, FIRE = "522634510000", "522634080000", "522634090000", "522634100000"


def rec(no, alarm, unit, cat, town, steps=(), end="", result="", injured="0", dead="0", loss="0", valid="1"):
    """One CSV row; `steps` = offsets in seconds from 派警 of (签收, 出警, 到达, 反馈),
    with 派警 one minute after 报警 when `steps` is not None."""
    a = dt.datetime.fromisoformat(alarm)
    times = [""] * 5
    if steps is not None:
        d = a + dt.timedelta(minutes=1)
        times[0] = str(d)
        for i, s in enumerate(steps):
            times[i + 1] = str(d + dt.timedelta(seconds=s))
    return [no, alarm, "1", "杨某", "13800000000", "雷山县某地", town, cat, "1", "报警内容，含逗号",
            unit, *times, end, result, injured, dead, loss, valid]


# The 8 records. Period notes: 2024-12-29 is Sunday of 2024-W52, 2024-12-30 is
# Monday of 2025-W01 (still month 2024-12, 2024-Q4, year 2024), 2025-12-31 is in
# 2026-W01, 2026-01-04 (Sunday) still 2026-W01, 2026-01-05 starts 2026-W02.
ROWS = [
    # T1: ack 30 s -> 30-60s; depart 240 s -> 0-5m; feedback 1800 s -> 30-60m; loss 0.1 元
    rec("T1", "2026-01-01 08:00:00", PS, "010101", "522634100", (30, 240, 900, 1800),
        "2026-01-01 09:00:00", "04", injured="", dead="", loss="0.1"),
    # T2: ack 29 s -> 0-30s; depart 600 s -> 10-15m; feedback 7200 s -> 2-4h; loss 0.2 元
    rec("T2", "2026-01-01 20:00:00", PS, "010100", "522634100", (29, 600, 1200, 7200),
        "2026-01-02 09:00:00", "01", injured="1", loss="0.2"),
    # T3: 2025-W01; ack 180 -> >180s; depart 1800 -> >30m; feedback 14400 -> >4h; 是否有效 = 是
    rec("T3", "2024-12-30 10:00:00", TRAFFIC, "030101", "522634101", (180, 1800, 2400, 14400),
        "2024-12-31 10:00:00", "03", injured="2", dead="1", loss="1234.5", valid="是"),
    # T4: 2024-W52, never dispatched, archived
    rec("T4", "2024-12-29 23:59:59", TRAFFIC, "030000", "522634101", None,
        "2024-12-30 00:10:00", loss="88.08"),
    # T5: invalid (重复报警); ack 60 -> 60-120s; depart 300 -> 5-10m; feedback 3599 -> 30-60m
    rec("T5", "2026-01-04 12:00:00", PATROL, "080200", "522634001", (60, 300, 900, 3599),
        "2026-01-04 14:00:00", "07", loss="", valid="0"),
    # T6: 2026-W02; unfinished at 已签收: ack 119 -> 60-120s, nothing else measured;
    # loss 0.29 元 = 29 分 (0.29 * 100 in floating point is 28.999…)
    rec("T6", "2026-01-05 00:00:00", FIRE, "040101", "522634102", (119,), loss="0.29"),
    # T7: 2026-W01 but month 2025-12; unfinished at 受理 (never dispatched)
    rec("T7", "2025-12-31 23:00:00", PS, "050300", "522634100", None, loss="0"),
    # T8: 2026-W14, Q1; feedback_filed; ack 120 -> 120-180s; depart 899 -> 10-15m; fb 1799 -> 0-30m
    rec("T8", "2026-03-31 23:59:59", PS, "010301", "522634100", (120, 899, 1500, 1799),
        "", "04", loss="500000.00"),
]


def m(count, valid, loss_fen, injured, dead):
    return {"count": count, "valid": valid, "loss_fen": loss_fen, "injured": injured, "dead": dead}


def buckets(kind, unit, counts):
    return [{"unit": unit, "bucket": name, "count": c} for (_, name), c in zip(ref.BUCKETS[kind], counts)]


class ReferenceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.csv = os.path.join(cls.dir.name, "t.csv")
        with open(cls.csv, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(H)
            w.writerows(ROWS)
        cls.db = ref.load(cls.csv)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def stats(self, by, date_from=None, date_to=None):
        return ref.stats(self.csv, date_from, date_to, by, db=self.db)

    def test_month_unit(self):
        self.assertEqual(self.stats("month,unit"), [
            {"month": "2024-12", "unit": TRAFFIC, **m(2, 2, 123450 + 8808, 2, 1)},
            {"month": "2025-12", "unit": PS, **m(1, 1, 0, 0, 0)},
            {"month": "2026-01", "unit": PATROL, **m(1, 0, 0, 0, 0)},
            {"month": "2026-01", "unit": FIRE, **m(1, 1, 29, 0, 0)},
            {"month": "2026-01", "unit": PS, **m(2, 2, 30, 1, 0)},  # 0.1 + 0.2 元 = 30 分
            {"month": "2026-03", "unit": PS, **m(1, 1, 50000000, 0, 0)},
        ])

    def test_iso_weeks_across_year_ends(self):
        self.assertEqual(self.stats("week"), [
            {"week": "2024-W52", **m(1, 1, 8808, 0, 0)},
            {"week": "2025-W01", **m(1, 1, 123450, 2, 1)},
            {"week": "2026-W01", **m(4, 3, 30, 1, 0)},
            {"week": "2026-W02", **m(1, 1, 29, 0, 0)},
            {"week": "2026-W14", **m(1, 1, 50000000, 0, 0)},
        ])

    def test_quarter_category_is_level_one(self):
        self.assertEqual(self.stats("quarter,category"), [
            {"quarter": "2024-Q4", "category": "030000", **m(2, 2, 132258, 2, 1)},
            {"quarter": "2025-Q4", "category": "050000", **m(1, 1, 0, 0, 0)},
            {"quarter": "2026-Q1", "category": "010000", **m(3, 3, 50000030, 1, 0)},
            {"quarter": "2026-Q1", "category": "040000", **m(1, 1, 29, 0, 0)},
            {"quarter": "2026-Q1", "category": "080000", **m(1, 0, 0, 0, 0)},
        ])

    def test_order_follows_by(self):
        got = self.stats("unit,year")
        self.assertEqual([(r["unit"], r["year"]) for r in got], [
            (PATROL, "2026"), (TRAFFIC, "2024"), (FIRE, "2026"), (PS, "2025"), (PS, "2026")])
        self.assertEqual(list(got[0]), ["unit", "year"] + ref.MEASURES)

    def test_date_range_is_inclusive_local_date(self):
        self.assertEqual(self.stats("year", "2026-01-01", "2026-01-04"),
                         [{"year": "2026", **m(3, 2, 30, 1, 0)}])
        # 23:59:59 on the 29th is outside a range that starts on the 30th.
        self.assertEqual(self.stats("day,township", "2024-12-30", "2024-12-30"),
                         [{"day": "2024-12-30", "township": "522634101", **m(1, 1, 123450, 2, 1)}])
        self.assertEqual(self.stats("day", "2027-01-01", "2027-12-31"), [])

    def test_no_dimension_is_one_total(self):
        self.assertEqual(self.stats(""), [m(8, 7, 50132317, 3, 1)])

    def test_bad_dimensions(self):
        for by in ("month,week", "unit,unit", "town"):
            with self.assertRaises(SystemExit, msg=by):
                with open(os.devnull, "w") as null, redirect_stderr(null):
                    self.stats(by)

    def test_speed(self):
        sp = lambda kind, *r: ref.speed(self.csv, kind, *r, db=self.db)  # noqa: E731
        self.assertEqual(sp("ack"), buckets("ack", PATROL, [0, 0, 1, 0, 0])
                         + buckets("ack", TRAFFIC, [0, 0, 0, 0, 1])
                         + buckets("ack", FIRE, [0, 0, 1, 0, 0])
                         + buckets("ack", PS, [1, 1, 0, 1, 0]))  # 29 s, 30 s, 120 s
        # The fire brigade never departed (T6 stopped at 已签收): no depart rows for it.
        self.assertEqual(sp("depart"), buckets("depart", PATROL, [0, 1, 0, 0, 0])
                         + buckets("depart", TRAFFIC, [0, 0, 0, 0, 1])
                         + buckets("depart", PS, [1, 0, 2, 0, 0]))
        self.assertEqual(sp("feedback"), buckets("feedback", PATROL, [0, 1, 0, 0, 0])
                         + buckets("feedback", TRAFFIC, [0, 0, 0, 0, 1])
                         + buckets("feedback", PS, [1, 1, 0, 1, 0]))
        self.assertEqual(sp("ack", "2026-01-01", "2026-01-31"), buckets("ack", PATROL, [0, 0, 1, 0, 0])
                         + buckets("ack", FIRE, [0, 0, 1, 0, 0])
                         + buckets("ack", PS, [1, 1, 0, 0, 0]))
        self.assertEqual(sp("ack", "2025-01-01", "2025-12-31"), [])

    def test_percentages(self):
        D = Decimal
        self.assertEqual(ref.share(1, 8), D("12.5"))
        self.assertEqual(ref.share(1, 3), D("33.3"))
        self.assertEqual(ref.share(2, 3), D("66.7"))
        self.assertEqual(ref.share(1, 16), D("6.3"))  # 6.25: half away from zero, not to even
        self.assertEqual(ref.share(1, 80), D("1.3"))
        self.assertEqual(ref.share(23, 2000), D("1.2"))  # 1.15 exactly (a float gives 1.1499…)
        self.assertEqual(ref.share(30, 50132317), D("0.0"))
        self.assertEqual(ref.share(5, 5), D("100.0"))
        self.assertIsNone(ref.share(0, 0))
        self.assertIsNone(ref.pct_change(5, 0))
        self.assertEqual(ref.pct_change(9, 8), D("12.5"))
        self.assertEqual(ref.pct_change(7, 8), D("-12.5"))
        self.assertEqual(ref.pct_change(0, 3), D("-100.0"))
        self.assertEqual(ref.pct_change(10005, 10000), D("0.1"))  # +0.05
        self.assertEqual(ref.pct_change(9995, 10000), D("-0.1"))  # -0.05
        self.assertEqual(str(ref.pct_change(9996, 10000)), "0.0")  # -0.04: no "-0.0"
        self.assertEqual(ref.pct_change(3, 1), D("200.0"))
        self.assertEqual(json.loads(ref.dump([ref.share(1, 8), None])), [12.5, None])

    def test_bad_rows(self):
        bad = os.path.join(self.dir.name, "bad.csv")
        with open(bad, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(H)
            w.writerows(ROWS)
            w.writerow(rec("B1", "2026-01-01 08:00:00", PS, "010101", "522634100", None,
                           "2026-01-01 09:00:00", loss="0.125"))
        r = run("stats", "--csv", bad, "--by", "year")
        self.assertEqual(r.returncode, 2)
        self.assertIn("第 10 行", r.stderr)
        self.assertIn("损失金额", r.stderr)
        r = run("stats", "--csv", bad, "--by", "year", "--skip-invalid")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), self.stats("year"))
        for row, why in [
            (rec("B2", "2026-01-01 08:00:00", PS, "010101", "522634100", (30,), "2026-01-02 00:00:00"),
             "不能有终结时间"),
            (rec("B3", "2026-01-01 08:00:00", PS, "010101", "522634100", (30, 20)), "出警时间 早于 签收时间"),
            ([x.replace("2026", "２０２６") for x in rec("B4", "2026-01-01 08:00:00", PS, "010101",
                                                        "522634100", None)], "报警时间"),
            (rec("B5", "2026-01-01 08:00:00", PS, "010101", "522634100", None, result="01"), "处警结果代码"),
        ]:
            with self.assertRaises(ref.BadRow) as e:
                ref.parse_row(row, ref.dictionaries())
            self.assertIn(why, str(e.exception))

    def test_cli_and_compare(self):
        r = run("stats", "--csv", self.csv, "--from", "2024-01-01", "--to", "2026-12-31",
                "--by", "month,unit", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got, self.stats("month,unit"))
        self.assertIn('"unit": "522634510000"', r.stdout)
        r = run("speed", "--csv", self.csv, "--kind", "ack", "--from", "2024-01-01", "--to", "2026-12-31")
        self.assertEqual(json.loads(r.stdout), ref.speed(self.csv, "ack", db=self.db))

        a = os.path.join(self.dir.name, "a.json")
        b = os.path.join(self.dir.name, "b.json")
        Path(a).write_text(json.dumps(got), "utf-8")
        Path(b).write_text(json.dumps([{**x, "loss_fen": float(x["loss_fen"])} for x in got]), "utf-8")
        r = run("compare", a, b)
        self.assertEqual(r.returncode, 0, r.stdout)  # 30 and 30.0 are the same number
        got[4]["loss_fen"] = 31
        Path(b).write_text(json.dumps(got), "utf-8")
        r = run("compare", a, b)
        self.assertEqual(r.returncode, 1)
        self.assertIn("第 5 行不同", r.stdout)
        self.assertIn("loss_fen (30 ≠ 31)", r.stdout)
        Path(b).write_text(json.dumps(got[:3]), "utf-8")
        r = run("compare", a, b)
        self.assertEqual(r.returncode, 1)
        self.assertIn("行数不同", r.stdout)


class GeneratorTest(unittest.TestCase):
    """scripts/gen-incidents.py: valid rows, coverage, determinism, distinct bad rows."""

    @classmethod
    def setUpClass(cls):
        spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen-incidents.py")
        cls.gen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cls.gen)

    def test_valid_and_covering(self):
        header, rows, _ = self.gen.generate(1200, 3, dt.date(2026, 11, 30), 15, 0)
        self.assertEqual(header, H)
        codes = ref.dictionaries()
        recs = [ref.parse_row(r, codes) for r in rows]  # raises on any invalid row
        self.assertEqual(len({r[0] for r in rows}), len(rows))
        self.assertEqual({r[H.index("管辖单位代码")] for r in rows}, ref.UNITS)
        self.assertEqual({r[H.index("警情类别代码")] for r in rows}, codes["category"])
        self.assertEqual({r[H.index("乡镇代码")] for r in rows}, codes["township"])
        self.assertEqual({r[H.index("处警结果代码")] for r in rows} - {""}, codes["result"])
        days = {x["alarm"].date() for x in recs}
        self.assertGreaterEqual(min(days), dt.date(2023, 12, 1))
        self.assertLessEqual(max(days), dt.date(2026, 11, 30))
        statuses = {(sum(t is not None for t in x["steps"]), r[H.index("终结时间")] != "")
                    for x, r in zip(recs, rows)}
        for k in range(6):
            self.assertIn((k, False), statuses)  # unfinished at every status
        for kind, edges in ref.BUCKETS.items():
            seen = set()
            for x in recs:
                d, end = x["steps"][0], x["steps"][{"ack": 1, "depart": 2, "feedback": 4}[kind]]
                if d and end:
                    s = (end - d).total_seconds()
                    seen.add(max(i for i, (lo, _) in enumerate(edges) if s >= lo))
            self.assertEqual(seen, set(range(5)), kind)

    def test_deterministic(self):
        a = self.gen.generate(300, 1, dt.date(2025, 6, 30), 3, 0)[1]
        b = self.gen.generate(300, 1, dt.date(2025, 6, 30), 3, 0)[1]
        c = self.gen.generate(300, 1, dt.date(2025, 6, 30), 4, 0)[1]
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)

    def test_bad_rows_each_fail(self):
        n = len(self.gen.BAD_KINDS)
        _, rows, report = self.gen.generate(1500, 3, dt.date(2026, 11, 30), 15, n)
        self.assertEqual(len({b["kind"] for b in report}), n)
        codes = ref.dictionaries()
        bad_lines = set()
        seen = set()
        for line, row in enumerate(rows, start=2):
            try:
                ref.parse_row(row, codes)
                if row[0] in seen:
                    raise ref.BadRow("重复")
                seen.add(row[0])
            except ref.BadRow:
                bad_lines.add(line)
        self.assertEqual(bad_lines, {b["line"] for b in report})


def run(*args):
    return subprocess.run([sys.executable, str(HERE / "reference.py"), *args],
                          capture_output=True, text=True, encoding="utf-8")

if __name__ == "__main__":
    unittest.main()
