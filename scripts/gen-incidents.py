#!/usr/bin/env python3
"""Generates a historical 110 incident CSV (one row per incident) for import and
statistics tests. Standard library only; the output is a function of the
arguments (same seed, same bytes).

    python3 scripts/gen-incidents.py --count 100000 --out /tmp/incidents.csv
    python3 scripts/gen-incidents.py --count 2000 --bad 12 --bad-report bad.json > x.csv

Codes come from crates/jingwu-core/data/dictionaries.json (alarm_category at
all three levels, township, alarm_method, incident_level, handling_result) and
the 12 dispatch targets of bureau 522634000000 (names and the station ->
township map from leishan-org.json). With --count >= 1000 every unit, category
code, township, method, level, result, status and speed bucket occurs at least
once. --bad K makes K rows invalid, each in a different way (cycling when K
exceeds the number of ways); --bad-report writes which rows and why.
"""

import argparse
import csv
import datetime as dt
import itertools
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "crates" / "jingwu-core" / "data"

HEADER = [
    "接警单编号", "报警时间", "报警方式", "报警人", "联系电话", "案发地点", "乡镇代码",
    "警情类别代码", "警情级别", "报警内容", "管辖单位代码", "派警时间", "签收时间",
    "出警时间", "到达时间", "反馈时间", "终结时间", "处警结果代码", "受伤人数",
    "死亡人数", "损失金额", "是否有效",
]
COL = {h: i for i, h in enumerate(HEADER)}

BUREAU = "522634000000"
STATIONS = [f"5226345{i}0000" for i in range(1, 10)]
PATROL, TRAFFIC, FIRE = "522634080000", "522634090000", "522634100000"
UNITS = STATIONS + [PATROL, TRAFFIC, FIRE]

# Statuses, in lifecycle order: the number of steps (派警, 签收, 出警, 到达, 反馈) reached.
UNFINISHED = ["received", "dispatched", "acknowledged", "departed", "arrived", "feedback_filed"]

# Speed buckets (seconds, lower-inclusive), the same edges as the statistics contract.
SPEED = {
    "ack": [0, 30, 60, 120, 180],
    "depart": [0, 300, 600, 900, 1800],
    "feedback": [0, 1800, 3600, 7200, 14400],
}
# How likely each bucket is, per kind, and how far the open last bucket reaches.
SPEED_WEIGHTS = {
    "ack": [38, 30, 17, 8, 7],
    "depart": [45, 28, 13, 9, 5],
    "feedback": [12, 36, 30, 14, 8],
}
SPEED_TAIL = {"ack": 1200, "depart": 5400, "feedback": 3 * 86400}

HOUR_WEIGHTS = [
    2.6, 2.0, 1.5, 1.1, 0.9, 1.0, 1.6, 3.0, 4.6, 5.6, 6.0, 6.0,
    5.6, 5.2, 5.5, 5.9, 6.1, 6.3, 6.7, 7.2, 7.0, 6.0, 4.6, 3.4,
]

# Level-1 family weights (share of all calls).
FAMILY_WEIGHTS = {
    "01": 11, "02": 14, "03": 19, "04": 3, "05": 20, "06": 8, "07": 2, "08": 23,
}

TOWNSHIP_WEIGHTS = {
    "522634001": 16, "522634100": 24, "522634101": 16, "522634102": 7, "522634103": 7,
    "522634104": 8, "522634200": 6, "522634203": 6, "522634204": 5,
}
# Township -> villages / communities, and the urban streets of the county seat.
VILLAGES = {
    "522634001": ["龙头社区", "陶尧社区", "新城社区"],
    "522634100": ["大沟村", "乌东村", "猫猫河村", "白岩村", "羊苟村"],
    "522634101": ["西江村", "营上村", "麻料村", "控拜村", "黄里村"],
    "522634102": ["永乐村", "开屯村", "乔歪村", "加鸟村"],
    "522634103": ["郎德上寨", "报德村", "也利村", "望丰村口"],
    "522634104": ["大塘村", "新桥村", "掌批村", "交腊村"],
    "522634200": ["望丰村", "公统村", "三角田村"],
    "522634203": ["达地村", "里勇村", "乌空村", "同流村"],
    "522634204": ["方祥村", "格头村", "陡寨村", "雀鸟村"],
}
STREETS = ["丹江大道", "民族路", "永乐路", "雷公山大道", "育英路", "龙头大道", "新城路", "环城北路"]
SPOTS = [
    "农贸市场", "客车站", "县人民医院门口", "加油站", "超市门口", "网吧", "学校门口", "广场",
    "烧烤摊", "KTV", "停车场", "景区停车场", "银行门口", "菜市场", "工地", "小区门口", "饭店",
]
ROADS = ["凯雷高速雷山出口", "雷榕公路", "丹江至西江公路", "雷山至大塘公路", "县道", "环城北路路口"]
VEHICLES = ["电动车", "摩托车", "三轮车", "自行车"]
CARS = ["小轿车", "面包车", "货车", "越野车", "客车"]
ITEMS = ["手机", "钱包", "挎包", "金项链", "现金"]
RELATIVES = ["儿子", "女儿", "父亲", "母亲", "丈夫", "妻子", "孙子", "奶奶"]
REASONS = ["宅基地", "土地边界", "修路占地", "放水灌溉", "噪音", "停车", "装修", "借款", "彩礼"]
SURNAMES = list("杨吴王李张龙潘余文唐罗陈刘石万侯宋顾邰韦欧蒋")
MONEY = [200, 500, 800, 1000, 1500, 3000, 5000, 8000, 12000, 30000, 68000]
GIVEN = list("明华英芳军勇丽红平刚海燕秀金兰春光德林清志强梅云飞玉成国富贵")

# Report texts: by category code prefix (longest prefix wins). Placeholders:
# {spot} {veh} {car} {item} {money} {n} {rel} {age} {reason} {road} {village}.
TEXTS = {
    "01": ["报警称{spot}发生刑事案件，具体情况不详", "报警人称其遭受不法侵害，请求出警"],
    "0101": ["报警人称其停放在{spot}的{veh}被盗", "称{spot}有人盗窃{item}", "报称家中物品被盗窃，损失约{money}元"],
    "010101": ["称其家中被盗，门锁被撬，丢失现金约{money}元", "报称{village}家中被人入室盗窃"],
    "010102": ["称停放在{spot}的{car}被盗", "报称其{car}夜间被盗，车内有{item}"],
    "010103": ["称其饲养的{n}头牛被盗", "报称圈里的猪被人偷走{n}头"],
    "010104": ["报称在{spot}被人扒窃{item}", "称在客车上{item}被扒"],
    "0102": ["报警人称在{spot}被两名男子抢走{item}", "称被人持刀抢劫，抢走现金{money}元"],
    "0103": ["称被人以办理贷款为由骗走{money}元", "称购买的货物未收到，被骗{money}元"],
    "010301": ["称接到自称客服的电话，按对方要求转账{money}元后发现被骗", "称在网上刷单被骗{money}元", "称被冒充公检法的人诈骗{money}元"],
    "0104": ["称在{spot}与人发生口角后被人打伤", "报称其{rel}被人用木棒打伤"],
    "02": ["报称{spot}有人扰乱秩序", "称{spot}有治安情况，请求处理"],
    "0201": ["称在{spot}被人殴打", "{spot}有人打架，有人受伤", "称酒后与人发生冲突被殴打"],
    "0202": ["举报{spot}有人聚众赌博", "举报{village}有人设赌场"],
    "0203": ["称有人在{spot}酒后滋事、砸坏物品", "称一伙人在{spot}起哄闹事"],
    "03": ["{road}发生交通情况，请求处理", "报称{road}路况异常"],
    "0301": ["{road}发生{veh}与{car}相撞事故", "报称{road}一辆{car}撞上护栏"],
    "030101": ["{road}发生交通事故，有人受伤", "{road}{veh}与{car}相撞，{n}人受伤"],
    "030102": ["{road}两车剐蹭，无人员伤亡", "称其{car}在{spot}被倒车撞坏"],
    "0302": ["{road}堵车严重，请求疏导", "{spot}车辆乱停导致交通堵塞"],
    "04": ["报称{spot}冒烟，疑似火情", "称闻到焦糊味，怀疑附近有火情"],
    "0401": ["称{spot}旁一栋楼起火", "{spot}二楼冒出浓烟，火情不明"],
    "040101": ["{village}一民房起火，火情较大", "称邻居家厨房起火，火情已蔓延"],
    "0402": ["{village}后山山林起火，火情较大", "称看到山上有火情，疑似烧荒引起"],
    "0403": ["{road}一辆{car}起火", "停放在{spot}的{veh}自燃起火"],
    "05": ["报警人请求帮助", "称遇到困难，请求民警帮助"],
    "0501": ["称其{rel}（{age}岁）走失，至今未归", "报称在{spot}与{rel}走散"],
    "0502": ["称有人被困在{spot}的电梯内", "报称有人上山采药被困", "称{n}名游客被困山中"],
    "0503": ["称{spot}有人晕倒，需要帮助", "报称有老人突发疾病倒地"],
    "06": ["来电举报投诉有关情况", "反映{spot}有违法情况"],
    "0601": ["举报{spot}有人吸毒", "举报有人非法销售烟花爆竹", "举报{spot}有人无证驾驶{veh}"],
    "0602": ["投诉{spot}夜间噪音扰民", "投诉商家缺斤少两", "投诉{spot}烧烤摊油烟扰民"],
    "07": ["报称{village}发生突发事件", "称{spot}出现异常情况"],
    "0701": ["{village}发生山体滑坡，道路中断", "暴雨致{village}房屋进水", "称{road}有塌方"],
    "0702": ["{spot}聚集约{n}人，因{reason}发生争执", "{village}村民因{reason}聚集"],
    "08": ["报警人称与他人发生纠纷", "称与人发生矛盾纠纷，请求调解"],
    "0801": ["称与{rel}发生家庭纠纷", "称被{rel}打骂，家庭纠纷", "称与{rel}因{reason}发生争吵"],
    "0802": ["与邻居因{reason}发生纠纷", "称邻居占用其土地，双方发生纠纷"],
    "0803": ["称老板拖欠其工钱{money}元不还", "称借给他人{money}元未归还，发生经济纠纷"],
}
INVALID_TEXTS = ["无声电话", "报警人称打错了", "骚扰电话，无实际警情", "儿童玩耍拨打110", "重复报警，已有警情处理中"]

# Handling result by family (valid incidents), weights.
RESULTS = {
    "01": {"04": 70, "01": 10, "03": 10, "99": 10},
    "02": {"01": 45, "04": 25, "02": 20, "99": 10},
    "03": {"01": 55, "03": 35, "99": 10},
    "04": {"03": 60, "01": 30, "05": 10},
    "05": {"05": 75, "01": 15, "03": 10},
    "06": {"01": 40, "03": 35, "04": 15, "99": 10},
    "07": {"03": 50, "05": 30, "01": 20},
    "08": {"02": 70, "01": 20, "03": 10},
}
OTHER_RESULT = {"99": 1}
METHOD_WEIGHTS = {"1": 80, "2": 7, "3": 2, "4": 2, "5": 4, "6": 2, "7": 3}
LEVEL_WEIGHTS = {"": 28, "1": 62, "2": 7.5, "3": 2, "4": 0.5}  # "" = not graded
# Families where a loss is plausible, and how likely.
LOSS_CHANCE = {"01": 0.7, "02": 0.08, "03": 0.3, "04": 0.6, "05": 0.01, "06": 0.02, "07": 0.25, "08": 0.15}
MAX_LOSS_FEN = 50_000_000  # 500000.00 元


def load_codes():
    dicts = {d["id"]: d for d in json.loads((DATA / "dictionaries.json").read_text("utf-8"))}

    def codes(i):
        return [e["code"] for e in dicts[i]["entries"]]

    org = json.loads((DATA / "leishan-org.json").read_text("utf-8"))
    units = {u["code"]: u for u in org["units"]}
    missing = [u for u in UNITS if u not in units or units[u].get("parent") != BUREAU]
    if missing:
        sys.exit(f"leishan-org.json 缺少派警单位：{', '.join(missing)}")
    towns = codes("township")
    station_of = {}
    for s in STATIONS:
        t = units[s].get("township")
        if t in towns:
            station_of.setdefault(t, []).append(s)
    # A township without its own station (e.g. 龙头街道) is served by the
    # stations that have none (e.g. 桃江派出所) and the county-seat station.
    spare = [s for s in STATIONS if units[s].get("township") not in towns]
    for t in towns:
        station_of.setdefault(t, spare + [STATIONS[0]])
    return {
        "category": codes("alarm_category"),
        "township": towns,
        "township_name": {e["code"]: e["label"] for e in dicts["township"]["entries"]},
        "method": codes("alarm_method"),
        "level": codes("incident_level"),
        "result": codes("handling_result"),
        "station_of": station_of,
    }


class Gen:
    def __init__(self, rng, codes):
        self.r = rng
        self.c = codes
        cats = codes["category"]
        self.families = sorted({c[:2] for c in cats})
        self.family_w = [FAMILY_WEIGHTS.get(f, 2) for f in self.families]
        # Within a family: the level-1 code itself rarely, level 2 and 3 often.
        self.cats_of = {}
        for f in self.families:
            members = [c for c in cats if c[:2] == f]
            weights = [1 if c.endswith("0000") else (6 if c.endswith("00") else 4) for c in members]
            self.cats_of[f] = (members, weights)
        self.towns = codes["township"]
        self.town_w = [TOWNSHIP_WEIGHTS.get(t, 5) for t in self.towns]
        self.cum = {}  # id(weights dict) -> (keys, cumulative weights)
        self.unit_towns = {}  # unit -> townships it serves
        for t, ss in codes["station_of"].items():
            for s in ss:
                self.unit_towns.setdefault(s, []).append(t)

    # --- small pickers -------------------------------------------------
    def pick(self, weighted):
        """A key of a module-level weights dict (cached by identity)."""
        keys, cum = self.cum.get(id(weighted)) or self.cum.setdefault(
            id(weighted), (list(weighted), list(itertools.accumulate(weighted.values()))))
        return self.r.choices(keys, cum_weights=cum)[0]

    def text_for(self, cat):
        for n in (6, 4, 2):
            if cat[:n] in TEXTS:
                return self.r.choice(TEXTS[cat[:n]])
        return "报警人报称有警情"

    def fill(self, template, town):
        """The template with its placeholders drawn (only those it uses)."""
        r = self.r
        makers = {
            "spot": lambda: self.spot(town),
            "veh": lambda: r.choice(VEHICLES),
            "car": lambda: r.choice(CARS),
            "item": lambda: r.choice(ITEMS),
            "money": lambda: r.choice(MONEY),
            "n": lambda: r.randint(2, 6),
            "rel": lambda: r.choice(RELATIVES),
            "age": lambda: r.randint(5, 86),
            "reason": lambda: r.choice(REASONS),
            "road": self.road,
            "village": lambda: r.choice(VILLAGES.get(town, ["村"])),
        }
        return template.format_map({k: f() for k, f in makers.items() if "{" + k + "}" in template})

    def spot(self, town):
        r = self.r
        if town in ("522634001", "522634100") and r.random() < 0.6:
            return r.choice(STREETS) + r.choice(SPOTS)
        return r.choice(VILLAGES.get(town, ["村"])) + r.choice(SPOTS)

    def road(self):
        r = self.r
        road = r.choice(ROADS)
        return f"{road}{r.randint(1, 40)}公里处" if road.endswith("公路") or road == "县道" else road

    def place(self, town):
        r = self.r
        name = self.c["township_name"].get(town, "")
        x = r.random()
        if town in ("522634001", "522634100") and x < 0.55:
            return f"{name}{r.choice(STREETS)}{r.randint(1, 300)}号"
        if x < 0.8:
            v = r.choice(VILLAGES.get(town, ["村"]))
            return f"{name}{v}{r.randint(1, 12)}组" if v.endswith("村") else f"{name}{v}"
        return f"{name}{r.choice(VILLAGES.get(town, ['']))}{r.choice(SPOTS)}"

    def person(self):
        r = self.r
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def phone(self):
        r = self.r
        x = r.random()
        if x < 0.86:
            return f"1{r.choice('3456789')}{r.randrange(10**9):09d}"
        if x < 0.96:
            return f"0855-{r.randrange(2_000_000, 9_000_000)}"
        return "无"

    def speed(self, kind, bucket=None):
        """Seconds for `kind` in `bucket` (index), or in a weighted random bucket."""
        r = self.r
        edges = SPEED[kind]
        if bucket is None:
            bucket = r.choices(range(len(edges)), SPEED_WEIGHTS[kind])[0]
        lo = edges[bucket]
        if bucket + 1 < len(edges):
            return r.randrange(lo, edges[bucket + 1])
        return min(lo + int(r.expovariate(3.0 / (SPEED_TAIL[kind] - lo))), SPEED_TAIL[kind] * 3)

    def loss_fen(self, family):
        r = self.r
        if r.random() >= LOSS_CHANCE.get(family, 0.1):
            return 0
        # Mostly hundreds to a few thousand 元; a long tail up to 500000 元.
        if r.random() < 0.97:
            yuan = r.lognormvariate(6.4, 1.5)
        else:
            yuan = 10 ** r.uniform(4, 5.75)
        fen = min(int(yuan * 100), MAX_LOSS_FEN)
        x = r.random()
        if x < 0.5:
            fen -= fen % 100  # whole yuan
        elif x < 0.7:
            fen -= fen % 10  # one decimal
        return max(fen, 1)

    # --- a row -----------------------------------------------------------
    def row(self, seq, when, force):
        r = self.r
        c = self.c
        unit = force.get("unit")
        cat = force.get("category")
        town = force.get("township")
        if cat is None:
            if unit == FIRE:
                fam = "04"
            elif unit == TRAFFIC:
                fam = "03"
            else:
                fam = r.choices(self.families, self.family_w)[0]
                if unit is not None and fam == "04":
                    fam = "08"
            members, weights = self.cats_of[fam]
            cat = r.choices(members, weights)[0]
        fam = cat[:2]
        if town is None:
            if unit in self.unit_towns:
                town = r.choice(self.unit_towns[unit])
            else:
                town = r.choices(self.towns, self.town_w)[0]
        if unit is None:
            x = r.random()
            if fam == "04" and x < 0.85:
                unit = FIRE
            elif fam == "03" and x < 0.7:
                unit = TRAFFIC
            elif x < 0.1:
                unit = PATROL
            else:
                unit = r.choice(c["station_of"][town])

        result = force.get("result")
        valid = result not in ("06", "07") if result else self.r.random() >= 0.03
        method = force.get("method") or self.pick(METHOD_WEIGHTS)
        level = force.get("level")
        if level is None:
            level = self.pick(LEVEL_WEIGHTS)

        # Lifecycle: how many of the 5 steps were reached, and archived or not.
        status = force.get("status")
        speeds = force.get("speed", {})
        if status is None:
            if result is None and not speeds and r.random() < 0.035:
                status = r.choice(UNFINISHED)
            else:
                status = "archived"
        if status != "archived":
            steps = UNFINISHED.index(status)
        elif result is not None or speeds:
            steps = 5
        else:
            # Never dispatched: handled on the phone, or not a real call.
            never = 0.35 if not valid else (0.12 if fam in ("05", "06") else 0.03)
            steps = 0 if r.random() < never else 5
        if steps < 5:
            result = None
        elif result is None:
            result = self.pick(RESULTS.get(fam, OTHER_RESULT)) if valid else r.choice(["06", "07"])

        times = [""] * 5
        last = when
        if steps:
            d = when + dt.timedelta(seconds=20 + int(r.expovariate(1 / 120)))
            ack = speeds["ack"] if "ack" in speeds else self.speed("ack")
            dep = speeds["depart"] if "depart" in speeds else self.speed("depart")
            if dep < ack:
                if "depart" in speeds:
                    ack = r.randrange(0, dep + 1)
                else:
                    dep = ack + r.randrange(0, 120)
            arr = dep + 120 + int(r.expovariate(1 / 900))
            fb = speeds["feedback"] if "feedback" in speeds else self.speed("feedback")
            if fb < arr:
                if "feedback" in speeds:
                    ack, dep, arr = min(ack, fb), min(dep, fb), min(arr, fb)
                else:
                    fb = arr + r.randrange(60, 1800)
            offs = [0, ack, dep, arr, fb]
            for i in range(steps):
                times[i] = fmt(d + dt.timedelta(seconds=offs[i]))
            last = d + dt.timedelta(seconds=offs[steps - 1])
        end = ""
        if status == "archived":
            end_t = last + dt.timedelta(seconds=r.randrange(60, 3 * 86400 if steps else 3600))
            end = fmt(end_t)
            if end_t > self.cutoff:
                # Nothing happens after the last day: still open then.
                end = ""
        for i in range(steps):
            if times[i] and dt.datetime.strptime(times[i], "%Y-%m-%d %H:%M:%S") > self.cutoff:
                for j in range(i, 5):
                    times[j] = ""
                steps = i
                end = ""
                break
        if steps < 5:
            result = None

        injured = dead = 0
        if valid and steps == 5:
            hurt = cat in ("030101", "010200", "010400", "020100")
            if hurt and r.random() < 0.8 or r.random() < 0.01:
                injured = r.choice([1, 1, 1, 1, 2, 2, 3, 4])
            if cat == "030101" and r.random() < 0.08 or fam == "04" and r.random() < 0.01:
                dead = r.choice([1, 1, 2])
        # Losses and casualties are what the report (反馈) found.
        loss = self.loss_fen(fam) if valid and steps == 5 else 0

        content = self.fill(self.text_for(cat), town) if valid else r.choice(INVALID_TEXTS)
        if r.random() < 0.01:
            content = f'报警人称"{content}"，情况紧急,请尽快处理'
        caller = "" if method == "5" or r.random() < 0.06 else self.person()
        phone = "无" if method in ("3", "5") else self.phone()
        valid_text = ("是" if valid else "否") if r.random() < 0.01 else ("1" if valid else "0")

        return [
            f"LS{when:%Y%m%d}-{seq:06d}", fmt(when), method, caller, phone, self.place(town), town,
            cat, level, content, unit, *times, end, result or "",
            blank_zero(injured, r), blank_zero(dead, r), money(loss, r), valid_text,
        ]


def fmt(t):
    return t.isoformat(sep=" ")


def blank_zero(n, r):
    return "" if n == 0 and r.random() < 0.08 else str(n)


def money(fen, r):
    """Yuan text with 0..2 decimals (an empty field sometimes stands for 0)."""
    if fen == 0:
        x = r.random()
        return "" if x < 0.08 else ("0.00" if x < 0.1 else "0")
    y, f = divmod(fen, 100)
    if f == 0:
        return str(y)
    if f % 10 == 0:
        return f"{y}.{f // 10}"
    return f"{y}.{f:02d}"


# --- deliberately invalid rows -------------------------------------------
# Each: (kind, needs(row) -> bool, mutate(row, rows) -> None).
def _set(col, value):
    def f(row, rows):
        row[COL[col]] = value
    return f


def _ack_before_dispatch(row, rows):
    d = dt.datetime.fromisoformat(row[COL["派警时间"]])
    row[COL["签收时间"]] = fmt(d - dt.timedelta(seconds=45))


def _dispatch_before_alarm(row, rows):
    a = dt.datetime.fromisoformat(row[COL["报警时间"]])
    row[COL["派警时间"]] = fmt(a - dt.timedelta(minutes=3))


def _end_before_feedback(row, rows):
    f = dt.datetime.fromisoformat(row[COL["反馈时间"]])
    row[COL["终结时间"]] = fmt(f - dt.timedelta(minutes=10))


def _duplicate_id(row, rows):
    other = rows[0] if rows[0] is not row else rows[1]
    row[COL["接警单编号"]] = other[COL["接警单编号"]]


def _drop_ack(row, rows):
    row[COL["签收时间"]] = ""


def _drop_feedback_keep_end(row, rows):
    row[COL["反馈时间"]] = ""
    row[COL["处警结果代码"]] = ""


def _has(col):
    return lambda row: row[COL[col]] != ""


def _full(row):
    return row[COL["反馈时间"]] != "" and row[COL["终结时间"]] != ""


BAD_KINDS = [
    ("乡镇代码不存在", lambda row: True, _set("乡镇代码", "522634999")),
    ("损失金额三位小数", lambda row: True, _set("损失金额", "12.345")),
    ("签收时间早于派警时间", _has("签收时间"), _ack_before_dispatch),
    ("警情类别代码不存在", lambda row: True, _set("警情类别代码", "990000")),
    ("管辖单位不是派警单位", lambda row: True, _set("管辖单位代码", "522634110000")),
    ("联系电话格式错误", lambda row: True, _set("联系电话", "12345")),
    ("报警时间格式错误", lambda row: True,
     lambda row, rows: row.__setitem__(COL["报警时间"], row[COL["报警时间"]].replace("-", "/"))),
    ("接警单编号重复", lambda row: True, _duplicate_id),
    ("出警时间有而签收时间空", _has("出警时间"), _drop_ack),
    ("有反馈时间无处警结果", _has("反馈时间"), _set("处警结果代码", "")),
    ("无反馈时间有处警结果", lambda row: row[COL["反馈时间"]] == "", _set("处警结果代码", "01")),
    ("受伤人数为负", lambda row: True, _set("受伤人数", "-1")),
    ("是否有效取值错误", lambda row: True, _set("是否有效", "x")),
    ("已派警未反馈却有终结时间", _full, _drop_feedback_keep_end),
    ("派警时间早于报警时间", _has("派警时间"), _dispatch_before_alarm),
    ("接警单编号含非法字符", lambda row: True, _set("接警单编号", "LS 2026/001")),
    ("报警方式代码不存在", lambda row: True, _set("报警方式", "8")),
    ("警情级别代码不存在", lambda row: True, _set("警情级别", "5")),
    ("处警结果代码不存在", _has("反馈时间"), _set("处警结果代码", "98")),
    ("终结时间早于反馈时间", _full, _end_before_feedback),
    ("损失金额为负", lambda row: True, _set("损失金额", "-5")),
    ("死亡人数不是整数", lambda row: True, _set("死亡人数", "1.5")),
]


def span(end, years):
    """First day of the `years` years that end on `end` (inclusive)."""
    try:
        back = end.replace(year=end.year - years)
    except ValueError:  # 29 Feb
        back = end.replace(year=end.year - years, day=28)
    return back + dt.timedelta(days=1)


def date_weights(start, days):
    w = []
    for i in range(days):
        d = start + dt.timedelta(days=i)
        x = 1.0 + 0.25 * (i / max(days - 1, 1))  # slow growth
        if d.weekday() >= 5:
            x *= 1.15
        if d.month in (7, 8):
            x *= 1.2  # tourist season (西江)
        if d.month == 2 and d.day <= 20 or d.month == 1 and d.day >= 20:
            x *= 1.25  # Spring Festival period, roughly
        w.append(x)
    return w


def forced_specs(codes):
    """One spec per thing that must occur at least once."""
    specs = [{"category": c} for c in codes["category"]]
    specs += [{"unit": u} for u in UNITS]
    specs += [{"township": t} for t in codes["township"]]
    specs += [{"method": m} for m in codes["method"]]
    specs += [{"level": lv} for lv in codes["level"] + [""]]
    specs += [{"result": x} for x in codes["result"]]
    specs += [{"status": s} for s in UNFINISHED + ["archived"]]
    for kind, edges in SPEED.items():
        specs += [{"speed": {kind: None}, "bucket": b} for b in range(len(edges))]
    return specs


def generate(count, years, end, seed, bad, codes=None):
    """Returns (header, rows, bad_report)."""
    codes = codes or load_codes()
    rng = random.Random(seed)
    start = span(end, years)
    days = (end - start).days + 1
    gen = Gen(rng, codes)
    # No step of any record happens after the last day.
    gen.cutoff = dt.datetime(end.year, end.month, end.day, 23, 59, 59)

    day_idx = rng.choices(range(days), date_weights(start, days), k=count)
    hours = rng.choices(range(24), HOUR_WEIGHTS, k=count)
    base = dt.datetime(start.year, start.month, start.day)
    secs = sorted(d * 86400 + h * 3600 + rng.randrange(3600) for d, h in zip(day_idx, hours))

    force = [{} for _ in range(count)]
    forced = set()
    if count >= 1000:
        specs = forced_specs(codes)
        picks = rng.sample(range(count), len(specs))
        for i, spec in zip(picks, specs):
            spec = dict(spec)
            if "speed" in spec:
                kind = next(iter(spec["speed"]))
                spec["speed"] = {kind: gen.speed(kind, spec.pop("bucket"))}
            force[i] = spec
            forced.add(i)

    rows = [gen.row(i + 1, base + dt.timedelta(seconds=s), force[i]) for i, s in enumerate(secs)]

    report = []
    if bad:
        pool = [i for i in range(count) if i not in forced]
        rng.shuffle(pool)
        used = set()
        for k in range(bad):
            kind, needs, mutate = BAD_KINDS[k % len(BAD_KINDS)]
            i = next((j for j in pool if j not in used and needs(rows[j])), None)
            if i is None:
                sys.exit(f"无法生成第 {k + 1} 条错误数据（{kind}）：行数太少")
            used.add(i)
            mutate(rows[i], rows)
            report.append({"line": i + 2, "id": rows[i][0], "kind": kind})
        report.sort(key=lambda b: b["line"])
    return HEADER, rows, report


def main(argv=None):
    p = argparse.ArgumentParser(description="生成 110 历史警情导入 CSV（测试数据）")
    p.add_argument("--count", type=int, default=100000, help="行数（默认 100000）")
    p.add_argument("--years", type=int, default=3, help="覆盖的年数（默认 3）")
    p.add_argument("--end", default="2026-11-30", help="最后一天 YYYY-MM-DD（默认 2026-11-30）")
    p.add_argument("--seed", type=int, default=15, help="随机种子（默认 15）")
    p.add_argument("--bad", type=int, default=0, help="故意写错的行数，每行错法不同（默认 0）")
    p.add_argument("--bad-report", help="把错误行（行号、编号、错法）写成 JSON 到此文件")
    p.add_argument("--out", help="输出文件（默认标准输出）")
    a = p.parse_args(argv)
    if a.count < 0 or a.years < 1 or a.bad < 0 or a.bad > a.count:
        p.error("--count >= 0，--years >= 1，0 <= --bad <= --count")
    try:
        end = dt.date.fromisoformat(a.end)
    except ValueError:
        p.error(f"--end 不是日期：{a.end}")

    header, rows, report = generate(a.count, a.years, end, a.seed, a.bad)
    out = open(a.out, "w", encoding="utf-8", newline="") if a.out else sys.stdout
    try:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    finally:
        if a.out:
            out.close()
    if a.bad_report:
        Path(a.bad_report).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
