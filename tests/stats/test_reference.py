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


PS2 = "522634520000"
T100, T101, T102, T001 = "522634100", "522634101", "522634102", "522634001"

# A report of 2026-W48 (Mon 2026-11-23 .. Sun 2026-11-29). 环比 with 2026-W47
# (11-16 .. 11-22), 同比 with 2025-W48 (2025-11-24 .. 11-30).
REPORT_ROWS = [
    # --- the week: 8 records ---
    # A1: first second of the week; ack 30 s, depart 300 s, feedback 1800 s; 100.5 元, 1 injured
    rec("A1", "2026-11-23 00:00:00", PS, "010101", T100, (30, 300, 900, 1800),
        "2026-11-23 02:00:00", "04", injured="1", loss="100.5"),
    # A2: last second of the week (派警 falls in W49: still the record's period);
    # 火灾, a category with no record before nor a year earlier; stopped at 已签收 (ack 90 s)
    rec("A2", "2026-11-29 23:59:59", PS2, "040000", T100, (90,)),
    # A3: 无效; ack 60, depart 600, feedback 3600
    rec("A3", "2026-11-25 10:00:00", PS, "010200", T101, (60, 600, 1200, 3600),
        "2026-11-25 12:00:00", "06", valid="0"),
    # A4: 已反馈, not archived; ack 0, depart 100, feedback 1000; 0.05 元, 1 dead
    rec("A4", "2026-11-26 12:00:00", PS2, "030101", T101, (0, 100, 500, 1000), "", "01",
        dead="1", loss="0.05"),
    # A5: never dispatched, 受理
    rec("A5", "2026-11-27 09:00:00", TRAFFIC, "030000", T102, None),
    # A6: 已出警; ack 200, depart 250
    rec("A6", "2026-11-27 10:00:00", TRAFFIC, "030101", T102, (200, 250)),
    # A7: 已到达现场; ack 100, depart 400
    rec("A7", "2026-11-28 11:00:00", FIRE, "040101", T102, (100, 400, 500)),
    # A8: 已下达 only, nothing measured
    rec("A8", "2026-11-28 12:00:00", PATROL, "080200", T001, ()),
    # --- the week before: 3 records ---
    rec("P1", "2026-11-22 23:59:59", PS, "010000", T100, (10, 20, 30, 40),
        "2026-11-23 01:00:00", "04", dead="1", loss="33.33"),
    rec("P2", "2026-11-16 00:00:00", PS, "030000", T101, None, "2026-11-16 01:00:00"),
    rec("P3", "2026-11-20 08:00:00", PS, "010300", T100, None, "2026-11-20 09:00:00"),
    # --- a year earlier: 2 records, and one just outside ---
    rec("Y1", "2025-11-24 08:00:00", PS, "010101", T102, (5, 6, 7, 8), "2025-11-24 09:00:00", "04",
        loss="100.55"),
    rec("Y2", "2025-11-30 23:59:59", TRAFFIC, "030000", T102, (5, 6, 7, 8), "2025-12-01 09:00:00",
        "04", injured="2"),
    rec("Y3", "2025-11-23 23:59:59", FIRE, "040000", T100, None, "2025-11-24 00:00:00"),
    # --- after the week ---
    rec("N1", "2026-11-30 00:00:00", FIRE, "040000", T100, (1000,)),
]


def line(code, count, valid, loss_fen, injured, dead, share_pct, mom, yoy):
    return {"code": code, **m(count, valid, loss_fen, injured, dead), "share_pct": share_pct,
            "mom_pct": mom, "yoy_pct": yoy}


def sline(unit, counts, shares, mean):
    return {"unit": unit, "total": sum(counts), "counts": counts, "shares_pct": shares, "mean_secs": mean}


def figures(x):
    """The report without names and labels (what compare-report ignores)."""
    if isinstance(x, dict):
        return {k: figures(v) for k, v in x.items() if k not in ref.REPORT_IGNORED}
    if isinstance(x, list):
        return [figures(v) for v in x]
    return x


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.csv = os.path.join(cls.dir.name, "r.csv")
        with open(cls.csv, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(H)
            w.writerows(REPORT_ROWS)
        cls.db = ref.load(cls.csv)
        cls.report = json.loads(ref.dump(ref.report(cls.csv, "2026-W48", db=cls.db)))

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_period_and_totals(self):
        r = self.report
        self.assertEqual([r[k] for k in ("period", "kind", "from", "to", "previous_period",
                                         "year_earlier_period")],
                         ["2026-W48", "week", "2026-11-23", "2026-11-29", "2026-W47", "2025-W48"])
        self.assertIn("2026年第48周（11月23日—11月29日）", r["title"])
        self.assertEqual(r["totals"], {
            "current": m(8, 7, 10050 + 5, 1, 1),
            "previous": m(3, 3, 3333, 0, 1),
            "year_earlier": m(2, 2, 10055, 2, 0),
            # 8/3 → 166.7; 7/3 → 133.3; 10055/3333 − 1 = 201.68…; injured base 0; dead 1 → 1
            "mom_pct": {"count": 166.7, "valid": 133.3, "loss_fen": 201.7, "injured": None, "dead": 0.0},
            "yoy_pct": {"count": 300.0, "valid": 250.0, "loss_fen": 0.0, "injured": -50.0, "dead": None},
        })

    def test_lines(self):
        r = figures(self.report)
        z = lambda c: line(c, 0, 0, 0, 0, 0, 0.0, None, None)  # noqa: E731
        self.assertEqual(r["by_category"], [
            line("010000", 2, 1, 10050, 1, 0, 25.0, 0.0, 100.0),  # before: P1, P3; a year earlier: Y1
            z("020000"),
            line("030000", 3, 3, 5, 0, 1, 37.5, 200.0, 200.0),
            line("040000", 2, 2, 0, 0, 0, 25.0, None, None),  # base 0 both ways (Y3 is in 2025-W47)
            z("050000"), z("060000"), z("070000"),
            line("080000", 1, 1, 0, 0, 0, 12.5, None, None),
        ])
        self.assertEqual(r["by_unit"], [
            line(PATROL, 1, 1, 0, 0, 0, 12.5, None, None),
            line(TRAFFIC, 2, 2, 0, 0, 0, 25.0, None, 100.0),
            line(FIRE, 1, 1, 0, 0, 0, 12.5, None, None),
            line(PS, 2, 1, 10050, 1, 0, 25.0, -33.3, 100.0),
            line(PS2, 2, 2, 5, 0, 1, 25.0, None, None),
        ])
        self.assertEqual(r["by_township"], [
            line(T001, 1, 1, 0, 0, 0, 12.5, None, None),
            line(T100, 2, 2, 10050, 1, 0, 25.0, 0.0, None),
            line(T101, 2, 1, 5, 0, 1, 25.0, 100.0, None),
            line(T102, 3, 3, 0, 0, 0, 37.5, None, 50.0),
        ])

    def test_speed(self):
        sp = {t["kind"]: t for t in figures(self.report)["speed"]}
        self.assertEqual([t["kind"] for t in self.report["speed"]], ["ack", "depart", "feedback"])
        self.assertEqual(sp["ack"]["buckets"], ["0-30s", "30-60s", "60-120s", "120-180s", ">180s"])
        ack = {
            TRAFFIC: sline(TRAFFIC, [0, 0, 0, 0, 1], [0.0, 0.0, 0.0, 0.0, 100.0], 200.0),
            FIRE: sline(FIRE, [0, 0, 1, 0, 0], [0.0, 0.0, 100.0, 0.0, 0.0], 100.0),
            PS: sline(PS, [0, 1, 1, 0, 0], [0.0, 50.0, 50.0, 0.0, 0.0], 45.0),  # 30, 60
            PS2: sline(PS2, [1, 0, 1, 0, 0], [50.0, 0.0, 50.0, 0.0, 0.0], 45.0),  # 0, 90
        }
        self.assertEqual(sp["ack"]["units"], [ack[u] for u in (TRAFFIC, FIRE, PS, PS2)])
        self.assertEqual(sp["ack"]["overall"],
                         sline("", [1, 1, 3, 0, 1], [16.7, 16.7, 50.0, 0.0, 16.7], 80.0))  # 480 / 6
        # PS and PS2 tie at 45 s: the lower code is named, the other falls off the three.
        self.assertEqual(sp["ack"]["slowest"], [ack[TRAFFIC], ack[FIRE], ack[PS]])
        self.assertEqual([x["unit"] for x in sp["depart"]["slowest"]], [PS, FIRE, TRAFFIC])
        self.assertEqual(sp["depart"]["overall"],
                         sline("", [2, 2, 1, 0, 0], [40.0, 40.0, 20.0, 0.0, 0.0], 330.0))
        self.assertEqual(sp["feedback"]["units"], [
            sline(PS, [0, 1, 1, 0, 0], [0.0, 50.0, 50.0, 0.0, 0.0], 2700.0),
            sline(PS2, [1, 0, 0, 0, 0], [100.0, 0.0, 0.0, 0.0, 0.0], 1000.0),
        ])
        self.assertEqual(sp["feedback"]["overall"],
                         sline("", [1, 1, 1, 0, 0], [33.3, 33.3, 33.3, 0.0, 0.0], 2133.3))  # 6400 / 3
        self.assertEqual([x["unit"] for x in sp["feedback"]["slowest"]], [PS, PS2])

    def test_unfinished(self):
        r = self.report
        self.assertEqual([(x["status"], x["count"]) for x in r["unfinished"]], [
            ("received", 1), ("dispatched", 1), ("acknowledged", 1), ("departed", 1),
            ("arrived", 1), ("feedback_filed", 1), ("concluded", 0)])
        self.assertEqual(r["unfinished_total"], 6)

    def test_empty_period(self):
        r = json.loads(ref.dump(ref.report(self.csv, "2030-Q2", db=self.db)))
        self.assertEqual(r["totals"]["current"], m(0, 0, 0, 0, 0))
        self.assertEqual(r["totals"]["mom_pct"], dict.fromkeys(ref.MEASURES))
        self.assertEqual(len(r["by_category"]), 8)
        self.assertTrue(all(x["share_pct"] is None for x in r["by_category"]))
        self.assertEqual((r["by_unit"], r["by_township"]), ([], []))
        for t in r["speed"]:
            self.assertEqual((t["units"], t["slowest"]), ([], []))
            self.assertEqual(figures(t["overall"]), sline("", [0] * 5, [None] * 5, None))
        self.assertEqual(r["unfinished_total"], 0)

    def test_periods(self):
        def keys(text):
            p = ref.parse_period(text)
            return (ref.period_key(p), str(p[1]), str(p[2]), ref.period_key(ref.period_previous(p)),
                    ref.period_key(ref.period_year_earlier(p)))
        self.assertEqual(keys("2026-W01"), ("2026-W01", "2025-12-29", "2026-01-04", "2025-W52", "2025-W01"))
        self.assertEqual(keys("2027-W01"), ("2027-W01", "2027-01-04", "2027-01-10", "2026-W53", "2026-W01"))
        # 2026 has a week 53, 2025 does not: compare with 2025-W52.
        self.assertEqual(keys("2026-W53"), ("2026-W53", "2026-12-28", "2027-01-03", "2026-W52", "2025-W52"))
        self.assertEqual(keys("2026-01"), ("2026-01", "2026-01-01", "2026-01-31", "2025-12", "2025-01"))
        self.assertEqual(keys("2028-02"), ("2028-02", "2028-02-01", "2028-02-29", "2028-01", "2027-02"))
        self.assertEqual(keys("2026-Q1"), ("2026-Q1", "2026-01-01", "2026-03-31", "2025-Q4", "2025-Q1"))
        self.assertEqual(keys("2026"), ("2026", "2026-01-01", "2026-12-31", "2025", "2025"))
        self.assertEqual(keys("2028-02-29"), ("2028-02-29", "2028-02-29", "2028-02-29", "2028-02-28",
                                              "2027-02-28"))
        for bad in ["2025-W53", "2026-W54", "2026-W00", "2026-W5", "2026-Q0", "2026-Q5", "2026-00",
                    "2026-13", "2026-1", "1899", "26", "2026-02-30", "2026/11", ""]:
            with self.assertRaises(ref.BadPeriod, msg=bad):
                ref.parse_period(bad)

    def test_agrees_with_stats_and_speed(self):
        """On generated data: totals and lines equal `stats`, speed counts equal `speed`."""
        spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen-incidents.py")
        gen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gen)
        header, rows, _ = gen.generate(3000, 2, dt.date(2026, 11, 30), 7, 0)
        path = os.path.join(self.dir.name, "gen.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        db = ref.load(path)
        for period in ["2026-W48", "2026-11", "2026-Q3", "2026"]:
            r = json.loads(ref.dump(ref.report(path, period, db=db)))
            st = lambda by, a, b: ref.stats(path, a, b, by, db=db)  # noqa: E731
            spans = [(r["from"], r["to"])]
            for key in ("previous_period", "year_earlier_period"):
                q = ref.parse_period(r[key])
                spans.append((str(q[1]), str(q[2])))
            for part, (a, b) in zip(("current", "previous", "year_earlier"), spans):
                self.assertEqual([r["totals"][part]], st("", a, b), (period, part))
            for dim, key in [("unit", "by_unit"), ("township", "by_township")]:
                self.assertEqual([{dim: x["code"], **{k: x[k] for k in ref.MEASURES}} for x in r[key]],
                                 st(dim, *spans[0]))
            cats = {x["category"]: x for x in st("category", *spans[0])}
            for x in r["by_category"]:
                self.assertEqual(x["count"], cats.get(x["code"], {"count": 0})["count"])
            for t in r["speed"]:
                flat = [{"unit": u["unit"], "bucket": b, "count": c}
                        for u in t["units"] for b, c in zip(t["buckets"], u["counts"])]
                self.assertEqual(flat, ref.speed(path, t["kind"], *spans[0], db=db))
                self.assertEqual(t["overall"]["counts"],
                                 [sum(u["counts"][i] for u in t["units"]) for i in range(5)])

    def test_cli_and_compare_report(self):
        a = os.path.join(self.dir.name, "hub.json")
        b = os.path.join(self.dir.name, "ref.json")
        res = run("report", "--csv", self.csv, "--period", "2026-W48")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(figures(json.loads(res.stdout)), figures(self.report))
        Path(b).write_text(res.stdout, "utf-8")
        hub = json.loads(res.stdout)
        # Names, labels, title, scope and the time of generation are not compared.
        hub["title"], hub["scope"], hub["generated_at"] = "别的", "别的", "2000-01-01T00:00:00+08:00"
        hub["by_unit"][0]["name"] = "别的"
        hub["speed"][0]["label"] = "别的"
        hub["unfinished"][0]["label"] = "别的"
        hub["totals"]["current"]["count"] = 8.0  # the same number
        Path(a).write_text(json.dumps(hub, ensure_ascii=False), "utf-8")
        res = run("compare-report", a, b)
        self.assertEqual(res.returncode, 0, res.stdout)
        hub["totals"]["yoy_pct"]["injured"] = None
        hub["by_category"][3]["mom_pct"] = 0.0
        hub["speed"][0]["slowest"][2] = hub["speed"][0]["units"][3]  # PS2 instead of PS
        hub["speed"][2]["overall"]["mean_secs"] = 2133.4
        del hub["by_township"][0]
        hub["unfinished"][6]["count"] = 1
        Path(a).write_text(json.dumps(hub, ensure_ascii=False), "utf-8")
        res = run("compare-report", a, b)
        self.assertEqual(res.returncode, 1)
        out = res.stdout
        self.assertIn("有 6 处不同", out)
        self.assertIn("totals.yoy_pct.injured: ", out)
        self.assertIn('by_category["040000"].mom_pct', out)
        self.assertIn('speed["ack"].slowest: 行不同（只有 ', out)
        self.assertIn('speed["feedback"].overall.mean_secs', out)
        self.assertIn('by_township: 行不同（只有 ' + b + ' 有 ["522634001"]）', out)
        self.assertIn('unfinished["concluded"].count', out)
        res = run("report", "--csv", self.csv, "--period", "2026-W54")
        self.assertEqual(res.returncode, 2)
        self.assertIn("统计期“2026-W54”无效", res.stderr)


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
