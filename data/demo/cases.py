"""Demo cases (市民诉求): a few hundred reports across the demo streets, in every state.

Every case goes through the real state machine: ``workflow.create_case`` and
``workflow.act`` (and the reporter's ``withdraw``, ``rate`` and
``reopen_by_reporter``), each called with the service clock moved to the past
moment the step happened, in global time order, so deadlines, numbers
(WL20261003-0002), events, notifications and the overdue flags are what the
running system would have produced. The clock is restored afterwards.

What is generated (``random.Random`` seeded, so every load makes the same
plans; only the absolute times follow the day of the load):

* ~300 cases over the last ~60 days in the four demo streets, more in the
  larger estates, and ~50 in 香泉路居委会 so that ``staff.demo`` has a real
  queue (with some cases overdue);
* categories from ``config/rules/cases.yaml`` with realistic descriptions and
  addresses (buildings of the neighbourhood's estates, or its roads), located
  near the neighbourhood (within a radius that keeps routing to it);
* reporters: the demo residents (``resident.demo``, ``elder.demo``,
  ``owner.demo``, ``committee.demo``, ``family.demo``) and a pool of generated
  residents, three per neighbourhood (usernames like ``wl.xql.r1``);
* final states: dispatched, accepted, in_progress, resolved, closed (some
  visited, some rated 1–5, some after a reopen or a 改派), reopened, returned,
  merged, rejected and withdrawn; open cases past their contact or handling
  deadline (overdue), some escalated (督办), some with an extension or marked
  complex.

Idempotent by skipping: the workflow commits per call (as it does in
production), so this part is not one transaction like the places. It runs
only when no case has been reported by the generated reporters yet; a second
load adds nothing. A load interrupted half-way leaves the cases it made and is
not completed by the next load (reload into a fresh database to get them all).
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from models.base import db
from models.cases import Case
from models.people import ResidentProfile, User
from models.places import Building, Entrance, Estate, Neighbourhood, Street
from service import clock, geo, people, privacy
from service.cases import rules, workflow

SEED = "20240617:cases"
SHANGHAI = clock.SHANGHAI
POOL_PER_NEIGHBOURHOOD = 3
RANDOM_CASES = 230           # besides the ~45 of 香泉路 and the demo residents' own
XQL_CASES = 44
HOME = "310107-WL-XQL"       # staff.demo's 居委会 (香泉路)
HISTORY_DAYS = 58

ROADS = {
    "WL": ["万镇路", "新村路", "真华路", "富平路", "敦煌路", "香泉路"],
    "YC": ["宜川路", "中潭路", "交通西路", "延长西路", "光新路", "西康路"],
    "ZR": ["曹杨路", "铜川路", "兰溪路", "大渡河路", "清涧路", "芝川路"],
    "HQ": ["虹桥路", "古北路", "荣华东道", "伊犁路", "水城南路", "玛瑙路"],
}
RIVERS = {"WL": "新槎浦", "YC": "苏州河", "ZR": "真如港"}

# Category weights: the everyday mix of a residential street.
CATEGORY_WEIGHTS = {
    "garbage": 12, "corridor_clutter": 12, "property_service": 10, "noise": 8, "ebike_charging": 7,
    "street_vending": 7, "consultation": 7, "streetlight": 6, "elevator": 6, "illegal_building": 5,
    "suggestion": 5, "waterlogging": 4, "group_renting": 3, "manhole": 3, "dust": 3, "river": 2,
}
# Categories reported at a road rather than inside an estate.
ROAD_CATEGORIES = {"street_vending", "streetlight", "manhole", "waterlogging", "dust", "river"}

DESCRIPTIONS = {
    "corridor_clutter": [
        "{unit}{floor}楼楼道里堆了很多纸板箱和旧家具，已经一个多月了，消防通道都堵住了，存在火灾隐患，请尽快处理。",
        "{unit}一楼楼梯口被邻居放了好几辆旧自行车和杂物，老人上下楼很不方便，请居委会协调清理。",
        "{unit}{floor}楼有住户在楼道里长期摆放鞋柜和花盆，楼道只剩一人宽，晚上看不清容易绊倒。",
        "{unit}楼道里堆放的装修垃圾好几天没人清运，灰尘很大，还有异味。",
        "{unit}顶楼平台堆满了废品，像是有人收废品囤在这里，天热有异味，也招蟑螂。",
        "{unit}楼道里有住户堆放煤气罐和泡沫箱，担心有安全隐患，请上门看看。",
    ],
    "illegal_building": [
        "{bld}一楼住户在自家天井里搭建彩钢板房，已经施工好几天了，还占了一块公共绿地，请查处。",
        "{bld}顶楼有住户在屋顶平台加盖阳光房，施工噪音大，担心影响楼板安全。",
        "{bld}{floor}楼住户把阳台外扩，装了铁架子伸出去一米多，有坠落隐患，请核实是否属于违法搭建。",
        "{bld}旁边有人用砖砌围墙圈占公共绿地当私家花园，其他居民都进不去了。",
        "{bld}底楼住户拆了承重墙开门做生意，还在门口搭了雨棚，请核查。",
    ],
    "street_vending": [
        "{road}人行道上每天傍晚有流动摊贩卖水果和烧烤，油烟很大，行人只能走到机动车道上，很危险。",
        "{road}路口早上有人摆摊卖早点，占用盲道和人行道，垃圾随地乱扔。",
        "{road}一家水果店把货架摆到店门外人行道上，占了大半个人行道，推婴儿车过不去。",
        "{road}沿街饭店晚上在人行道上摆桌子做夜宵生意，一直吵到凌晨。",
        "{road}有三轮车停在路边卖菜，早高峰堵住非机动车道。",
    ],
    "group_renting": [
        "{unit}{floor}0{n}室疑似群租，一套两室户住了十几个人，进进出出很吵，房间里还隔出了好几个小间。",
        "{bld}{floor}楼有一户被二房东改成隔断间出租，晚上经常有陌生人出入，感觉不安全。",
        "{unit}有一户住了很多人，楼道里鞋子和行李堆满，电线私拉乱接，请核查。",
    ],
    "ebike_charging": [
        "{unit}有住户把电瓶车推进楼道充电，电线从{floor}楼窗户拉下来，晚上一直在充，很危险。",
        "{unit}一楼楼道里每天晚上都有电动自行车停放充电，消防通道被堵，请尽快处理。",
        "{bld}有人从家里私拉飞线给楼下的电动车充电，电线横穿小区道路。",
        "{bld}有住户把电动车推进电梯带回家里充电，物业劝了也不听。",
    ],
    "dust": [
        "{road}附近工地的渣土车进出不冲洗，路面全是泥，刮风时扬尘很大，窗户都不敢开。",
        "{road}道路开挖施工没有围挡和覆盖，黄土裸露，灰尘飘进小区。",
        "{road}旁边的拆房工地作业时不洒水降尘，粉尘很大，家里阳台一天就一层灰。",
    ],
    "river": [
        "{river}靠近{road}一段水面漂着很多垃圾和水草，河水发黑有臭味。",
        "{river}沿岸有人往河里倒生活垃圾，栏杆边也堆了不少。",
        "{river}{road}段有个排水口往河里排污水，颜色发白有泡沫。",
    ],
    "waterlogging": [
        "昨晚下雨后{road}积水很深，没过脚踝，雨水井好像堵了，电瓶车都过不去。",
        "{road}人行道有一段地势低，每次下雨都积水好几天，请疏通雨水口。",
        "{road}小区门口路面一下雨就积水，老人出入只能蹚水。",
    ],
    "garbage": [
        "{bld}旁边垃圾箱房的湿垃圾桶满了两天没人清运，气味很大，苍蝇很多。",
        "{bld}楼下的大件垃圾（旧沙发、床垫）堆了一个星期没人处理。",
        "垃圾箱房定时投放时间过后还有人乱扔垃圾袋，桶外面堆满了，请加强督导。",
        "{bld}后面有人偷倒装修垃圾，堆了一大堆，也没有围起来。",
        "小区垃圾分类志愿者最近晚上不在岗，干湿垃圾混投很严重。",
    ],
    "streetlight": [
        "{road}的一盏路灯坏了一个多星期，晚上一片漆黑，老人散步不安全。",
        "{road}路灯白天一直亮着不灭，浪费电。",
        "{road}的路灯灯杆被车撞歪了，灯罩掉在地上，有安全隐患。",
        "{road}人行道上连着三盏路灯不亮，晚上下班回家很害怕。",
    ],
    "manhole": [
        "{road}人行道上有个窨井盖破损塌陷了一半，晚上走路很容易踩空，请尽快处理。",
        "{road}的井盖松动，车子开过去哐当响，担心翻起来伤人。",
        "{road}非机动车道上的雨水井盖不见了，只用一个路障挡着，很危险。",
    ],
    "elevator": [
        "{bld}的电梯这几天经常停在半层开不了门，昨天有老人被困了二十分钟，物业说要等配件。",
        "{bld}电梯运行时晃得厉害还有异响，住户都不敢坐，请督促物业和维保单位检修。",
        "{bld}的电梯坏了三天还没修好，楼上住的都是老人，上下楼非常困难。",
        "{bld}电梯按钮失灵，年检合格证也过期了，请核查。",
    ],
    "property_service": [
        "{bld}{floor}楼顶上漏水，找了物业好几次都说没人手，一直拖着，请居委会协调。",
        "物业把小区绿化带改成收费停车位，没有征求过业主意见。",
        "{bld}楼顶水箱很久没清洗了，自来水有黄色杂质，物业不处理。",
        "小区门禁坏了一个多月，外来人员随便进出，物业一直没修。",
        "物业保洁不到位，{unit}楼道一个月没打扫了。",
    ],
    "noise": [
        "{road}的一家饭店排风机夜里一直响，吵得睡不着觉。",
        "{bld}{floor}楼住户装修，周末早上七点就开始用电钻，违反装修时间规定。",
        "小区广场舞音响声音太大，每天晚上放到九点多，影响老人和孩子休息。",
        "{road}附近工地夜里施工，凌晨还在打桩，不知道有没有夜间施工许可。",
    ],
    "consultation": [
        "想咨询老旧小区加装电梯的补贴政策和申请流程，我们{bld}的住户大部分都同意了。",
        "请问长护险怎么申请？家里老人八十多岁了，行动不便。",
        "咨询一下社区助餐点的老年人补贴标准，办理需要带什么材料？",
        "想了解居住证积分办理需要哪些材料，在哪里办理。",
        "请问高龄老人营养补贴怎么领取？",
        "咨询小区停车位租用的规定，物业说已经没有空位了。",
    ],
    "suggestion": [
        "建议在{bld}附近增设几张休息长椅，老人散步走累了没地方坐。",
        "建议{road}路口增加非机动车停放区，现在共享单车乱停很多。",
        "建议社区食堂延长晚餐供应时间，下班回来已经关门了。",
        "建议在垃圾箱房旁边安装洗手池，方便居民扔完湿垃圾洗手。",
        "建议小区健身器材定期检修，有几件已经生锈松动了。",
    ],
}
SOLVED_REPLIES = {
    "corridor_clutter": "已会同物业和楼组长上门劝导，楼道堆物已全部清理，楼组长将定期巡查。",
    "illegal_building": "经现场核查属实，已移交街道城管中队，违建部分已由当事人自行拆除。",
    "street_vending": "已联系城管中队到场劝离流动摊贩，并将该路段纳入重点巡查。",
    "group_renting": "已会同房管办、派出所上门核查，隔断已拆除，超员租客已搬离。",
    "ebike_charging": "已上门劝导，当事人已拆除飞线，电动车已移至小区集中充电棚。",
    "dust": "已联系施工单位，工地已增加洒水降尘和车辆冲洗，渣土已覆盖。",
    "river": "已通知河道养护单位打捞清理水面垃圾，排口情况已报水务部门。",
    "waterlogging": "已联系排水公司疏通雨水口，积水已排除。",
    "garbage": "已通知环卫所清运，并安排志愿者在定时投放时段值守督导。",
    "streetlight": "已报修路灯管理所，路灯已修复，恢复照明。",
    "manhole": "已通知权属单位，破损井盖已更换。",
    "elevator": "已督促物业和电梯维保单位检修，更换了门机控制板，电梯已恢复正常运行。",
    "property_service": "已约谈物业经理，物业已安排维修并承诺限期整改。",
    "noise": "已联系当事方协调，作业时间已按规定调整，如再发生可直接联系居委会。",
    "consultation": "已电话解答相关政策和办理流程，并告知所需材料和办理地点。",
    "suggestion": "感谢您的建议，已提交居民区议事会讨论，并反馈物业落实。",
}
EXPLAINED_REPLIES = [
    "经核实，该问题属于业主之间的民事纠纷，已向诉求人解释说明，建议通过人民调解途径解决。",
    "该设施不属于市政管辖，已向诉求人说明，并告知由物业负责维修。",
    "经现场查看未发现所述情况，已向诉求人说明，后续将加强巡查。",
    "已向诉求人解释相关政策规定，诉求人表示理解。",
]
CONTACT_NOTES = [
    "已电话联系诉求人，了解具体情况，约定下午上门查看。",
    "已上门与诉求人沟通，现场确认问题属实。",
    "已通过微信联系诉求人，告知处理安排。",
    "电话联系诉求人，说明已通知物业一同处理。",
]
RETURN_REASONS = [
    "该楼栋不属于本居民区，申请退回改派。",
    "该事项应由房管办牵头处理，不属于本居委会职责，申请退单。",
    "所报位置属于相邻居民区，申请改派。",
]
REJECT_REASONS = [
    "诉求内容涉及司法诉讼，不属于受理范围，已告知诉求人通过法律途径解决。",
    "同一问题已答复，不予重复受理。",
    "诉求内容不明确，多次联系诉求人未果。",
]
WITHDRAW_REASONS = ["问题已经解决了，撤回。", "物业已经处理好了。", "邻居已经自行清理了。", "报错位置了，重新提交。"]
VISIT_NOTES = {"solved": "回访诉求人，表示问题已解决。", "unsolved": "回访时诉求人表示问题仍未彻底解决。",
               "unreachable": "电话回访未接通。"}
RATING_COMMENTS = {5: ["处理很及时，谢谢居委会！", "社工态度很好，点赞。", None], 4: ["解决了，谢谢。", None],
                   3: ["解决了，就是时间有点长。", None], 2: ["只是解释了一下，没有实际处理。"],
                   1: ["问题没有根本解决，过几天又和原来一样了。"]}
REOPEN_REASONS = ["清理后没几天又恢复原样了，问题没有解决。", "又坏了，请再处理一次。", "答复和实际情况不符，请重新处理。"]
WEAK_REPLY_REASONS = "答复内容不完整，请补充现场照片和整改情况后再提交。"
EXTENSION_REASONS = ["需协调维保单位采购配件，申请延期。", "需等待业委会表决维修资金使用，申请延期。"]
COMPLEX_REASON = "涉及城管、房管等多部门联合处置，认定为复杂事项。"
ESCALATE_NOTES = ["已超过先行联系时限，请尽快联系诉求人。", "督办：请加快办理进度，按时答复。"]
REASSIGN_NOTE = "经核实属相邻居民区，改派办理。"
PROGRESS_NOTES = ["已联系物业，等待维保单位上门。", "已约相关单位现场会勘。", "已报街道城运中心协调。"]

NICKNAMES = ("阳光", "老王", "静待花开", "海阔天空", "平安是福", "晓月", "小胖妈妈", "王师傅", "清风", "知足常乐",
             "上善若水", "Lily", "阿强", "陈家姆妈", "快乐老头", "Sunny", "一帆风顺", "花开富贵", "小李飞刀", "老顾",
             "岁月静好", "Tony", "蓝天白云", "开心果", "张阿姨")


@dataclass
class Place:
    """A neighbourhood as the cases see it: where, its buildings and roads, and who works there."""

    id: int
    code: str
    street_id: int
    prefix: str
    lat: float
    lng: float
    radius_m: float
    buildings: list[tuple[str, str, list[str], int, bool]]   # (estate name, number, entrances, floors, elevator)
    handlers: list[str]
    head: str
    ops: str
    weight: float = 1.0


@dataclass
class Step:
    at: datetime
    who: str                 # "reporter", or a username
    kind: str                # an action name, or "withdraw", "rate", "reopen_by_reporter"
    payload: dict


@dataclass
class Plan:
    index: int
    place: Place
    reporter: str
    category: str
    description: str
    address: str
    lat: float
    lng: float
    attributes: dict
    anonymous: bool
    consent: bool
    received: datetime
    final: str
    steps: list[Step] = field(default_factory=list)
    merge_into: int | None = None    # plan index of the parent
    reassign_to: str | None = None   # neighbourhood code it is reassigned to (改派)
    case_id: int | None = None
    ends_open_at: datetime | None = None   # when it stops being open (None: still open)


# --- time ----------------------------------------------------------------------------------------------

def _snap(t: datetime, rng: random.Random, start: float, end: float) -> datetime:
    """Move ``t`` into the local hours [start, end) (the same day or the next morning). One draw always."""
    jitter = timedelta(minutes=rng.randint(0, 55))
    local = t.astimezone(SHANGHAI)
    hour = local.hour + local.minute / 60
    if hour < start:
        local = local.replace(hour=int(start), minute=int(start % 1 * 60), second=0) + jitter
    elif hour >= end:
        local = (local + timedelta(days=1)).replace(hour=int(start), minute=int(start % 1 * 60), second=0) + jitter
    return local.astimezone(timezone.utc).replace(microsecond=0)


class Timeline:
    """Steps of one case, forward in time: staff act in office hours, residents any time of the day."""

    def __init__(self, rng: random.Random, received: datetime):
        self.rng = rng
        self.received = _snap(received, rng, 6.5, 22.5)
        self.t = self.received
        self.steps: list[Step] = []

    def add(self, who: str, kind: str, payload: dict, lo_h: float, hi_h: float) -> datetime:
        t = self.t + timedelta(hours=self.rng.uniform(lo_h, hi_h))
        t = _snap(t, self.rng, 7, 22.5) if who == "reporter" else _snap(t, self.rng, 8.5, 18)
        self.t = t
        self.steps.append(Step(t, who, kind, payload))
        return t

    def fit_before(self, now: datetime) -> None:
        """Shift the whole case back by whole days so that its last step is in the past."""
        last = max([self.received] + [s.at for s in self.steps])
        limit = now - timedelta(minutes=10)
        if last > limit:
            days = math.ceil((last - limit) / timedelta(days=1))
            shift = timedelta(days=days)
            self.received -= shift
            for s in self.steps:
                s.at -= shift


# --- places and people ------------------------------------------------------------------------------------

def _places(spec: dict) -> dict[str, Place]:
    served = {f"{d['code']}-{s['prefix']}-{k}" for d in spec["districts"] for s in d["streets"]
              for e in s.get("estates", []) for k in e["neighbourhoods"]}
    rows = db.session.execute(sa.select(Neighbourhood, Street.prefix).join(Street, Street.id == Neighbourhood.street_id)
                              .order_by(Neighbourhood.id)).all()
    entrances: dict[int, list[str]] = {}
    for building_id, number in db.session.execute(sa.select(Entrance.building_id, Entrance.number)
                                                  .order_by(Entrance.building_id, Entrance.id)):
        entrances.setdefault(building_id, []).append(number)
    buildings: dict[int, list] = {}
    for b, estate_name in db.session.execute(sa.select(Building, Estate.name).join(Estate, Estate.id == Building.estate_id)
                                             .order_by(Building.id)):
        if b.neighbourhood_id is not None:
            buildings.setdefault(b.neighbourhood_id, []).append(
                (estate_name, b.number, entrances.get(b.id, ["1"]), b.floors or 6, b.has_elevator))
    area_of = {f"{d['code']}-{s['prefix']}-{n['key']}": (s["prefix"], a["key"])
               for d in spec["districts"] for s in d["streets"] for a in s.get("areas", []) for n in a["neighbourhoods"]}
    places: dict[str, Place] = {}
    for nb, prefix in rows:
        if nb.code not in area_of or nb.lat is None:
            continue
        p, area_key = area_of[nb.code]
        key = nb.code.rsplit("-", 1)[1].lower()
        head = f"{p.lower()}.{key}.head"
        handlers = [f"{p.lower()}.{key}.sw" if nb.code in served else head] * 2
        handlers.append(f"{p.lower()}.{area_key.lower()}.grid")
        places[nb.code] = Place(id=nb.id, code=nb.code, street_id=nb.street_id, prefix=prefix, lat=nb.lat, lng=nb.lng,
                                radius_m=150.0, buildings=buildings.get(nb.id, []), handlers=handlers, head=head,
                                ops=f"{p.lower()}.ops",
                                weight=(5.0 if "-YC-ZY" in nb.code else 3.0 if nb.code in served else 1.0))
    # A point closer to its own neighbourhood than 40% of the distance to the next one routes there.
    for place in places.values():
        nearest = min((geo.distance_m(place.lat, place.lng, o.lat, o.lng) for o in places.values() if o is not place),
                      default=1000.0)
        place.radius_m = min(150.0, 0.4 * nearest)
    demo_staff = set(db.session.execute(sa.select(User.username).where(
        User.username.in_(("staff.demo", "grid.demo")))).scalars())
    if HOME in places and demo_staff == {"staff.demo", "grid.demo"}:
        places[HOME].handlers = ["staff.demo"] * 5 + ["grid.demo", places[HOME].head]
    return places


def _pool_usernames(places: dict[str, Place]) -> dict[str, list[str]]:
    return {code: [f"{p.prefix.lower()}.{code.rsplit('-', 1)[1].lower()}.r{i}" for i in range(1, POOL_PER_NEIGHBOURHOOD + 1)]
            for code, p in places.items()}


def _ensure_reporters(places: dict[str, Place], pool: dict[str, list[str]], rng: random.Random) -> int:
    """The generated residents who report (no WeChat, no demo login), created once; returns rows added."""
    from data.demo.build import person_name

    wanted = [(code, name) for code, names in pool.items() for name in names]
    existing = set(db.session.execute(sa.select(User.username).where(
        User.username.in_([n for _, n in wanted]))).scalars())
    added = 0
    for sequence, (code, username) in enumerate(wanted, start=1):
        name, nickname = person_name(rng), rng.choice(NICKNAMES)   # drawn for every one: stable streams
        if username in existing:
            continue
        phone = f"1390002{sequence:04d}"
        user = User(username=username, nickname=nickname, is_demo=False)
        db.session.add(user)
        db.session.flush()
        db.session.add(ResidentProfile(user_id=user.id, name=name, phone_enc=privacy.encrypt(phone),
                                       phone_hash=privacy.lookup_hash(phone), phone_verified=True,
                                       declared_neighbourhood_id=places[code].id))   # typed, not yet verified
        added += 2
    db.session.commit()
    return added


# --- what a case looks like -------------------------------------------------------------------------------------

class Writer:
    """Descriptions, addresses and points for one case."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def point(self, place: Place) -> tuple[float, float]:
        r = place.radius_m * math.sqrt(self.rng.random())
        angle = self.rng.uniform(0, 2 * math.pi)
        dlat = math.degrees(r * math.cos(angle) / geo.EARTH_RADIUS_M)
        dlng = math.degrees(r * math.sin(angle) / (geo.EARTH_RADIUS_M * math.cos(math.radians(place.lat))))
        return round(place.lat + dlat, 6), round(place.lng + dlng, 6)

    def pick_category(self, place: Place, allowed: list[str] | None = None) -> str:
        weights = dict(CATEGORY_WEIGHTS)
        if not any(b[4] for b in place.buildings):
            weights.pop("elevator")
        if place.prefix not in RIVERS:
            weights.pop("river")
        if allowed:
            weights = {k: v for k, v in weights.items() if k in allowed} or {allowed[0]: 1}
        codes = [c for c in weights if rules.category(c) is not None]
        return self.rng.choices(codes, weights=[weights[c] for c in codes])[0]

    def vars(self, place: Place, category: str) -> dict:
        rng = self.rng
        roads = ROADS.get(place.prefix, ["中山北路"])
        road = rng.choice(roads)
        number = rng.randint(3, 1800)
        elevator_only = category == "elevator"
        buildings = [b for b in place.buildings if b[4]] if elevator_only else place.buildings
        if buildings:
            estate, bnum, entrances, floors, elevator = rng.choice(buildings)
            entrance = rng.choice(entrances)
            bld = f"{bnum}号楼"
            unit = f"{bld}{entrance}单元" if len(entrances) > 1 or rng.random() < 0.5 else bld
            floor = rng.randint(2, max(2, floors))
            estate_address = f"{estate}{bld}" + (f"{entrance}单元" if "单元" in unit else "")
        else:
            lane = rng.randint(10, 900)
            house = rng.randint(1, 40)
            bld = f"{lane}弄{house}号"
            unit, floor, elevator = bld, rng.randint(2, 6), False
            estate_address = f"{road}{lane}弄{house}号"
        other = rng.choice([r for r in roads if r != road] or roads)
        return {"road": road, "road_at": f"{road}{number}号附近", "crossing": f"{road}{other}路口", "bld": bld,
                "unit": unit, "floor": floor, "n": rng.randint(1, 4), "river": RIVERS.get(place.prefix, "河道"),
                "estate_address": estate_address, "bnum": bld, "elevator": elevator}

    def text(self, category: str, v: dict) -> tuple[str, str]:
        # A lift in the text only where the building has one.
        templates = [t for t in DESCRIPTIONS[category] if v["elevator"] or "电梯" not in t or category == "elevator"]
        template = self.rng.choice(templates)
        road_text = v["road"] if self.rng.random() < 0.5 else v["crossing"]
        description = template.format(road=road_text, bld=v["bld"], unit=v["unit"], floor=v["floor"], n=v["n"],
                                      river=v["river"]).replace("路口路口", "路口")
        if "{river}" in template:
            address = f"{v['river']}{v['road']}段"
        elif "{road}" in template or (category in ROAD_CATEGORIES and "{bld}" not in template):
            address = v["road_at"]
        else:
            address = v["estate_address"]
        return description, address

    def attributes(self, category: str, v: dict, prefix: str) -> dict:
        if category == "elevator":
            return {"building": v["bnum"]}
        if category == "streetlight" and self.rng.random() < 0.5:
            return {"light_id": f"{prefix}-{self.rng.randint(100, 999)}"}
        return {}


# --- scenarios: how a case reaches its final state -----------------------------------------------------

FINAL_WEIGHTS = {
    "closed": 44, "closed_rework": 3, "closed_reassigned": 2, "closed_weak_reply": 2, "resolved": 6,
    "in_progress": 9, "accepted": 6, "dispatched": 8, "reopened": 3, "returned": 3, "rejected": 4, "withdrawn": 4,
}
HOME_WEIGHTS = {
    "closed": 30, "closed_rework": 3, "closed_weak_reply": 2, "resolved": 9, "in_progress": 15, "accepted": 10,
    "dispatched": 13, "reopened": 4, "returned": 2, "rejected": 3, "withdrawn": 3,
}
MERGED_CASES = 14
OPEN_FINALS = {"dispatched", "accepted", "in_progress", "resolved", "reopened", "returned"}


class Scenarios:
    def __init__(self, rng: random.Random, now: datetime, places: dict[str, Place]):
        self.rng = rng
        self.now = now
        self.places = places

    def _age(self, lo_days: float, hi_days: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(lo_days, hi_days))

    def _contact(self, tl: Timeline, handler: str, plan: Plan, late: bool = False) -> None:
        if plan.consent:
            payload = {"method": self.rng.choice(("phone",) * 6 + ("visit", "visit", "wechat", "wechat")),
                       "note": self.rng.choice(CONTACT_NOTES)}
            if late:
                tl.add(handler, "contact", payload, 30, 52)
            else:
                tl.add(handler, "contact", payload, 0.2, 5)

    @staticmethod
    def _extendable(plan: Plan) -> bool:
        # 延期 must be asked for before the deadline: only where handling takes days.
        return rules.category(plan.category).limits["handling"] >= 5

    def _reply(self, plan: Plan) -> dict:
        explained = plan.category in ("consultation", "suggestion") or self.rng.random() < 0.12
        if explained:
            reply = SOLVED_REPLIES[plan.category] if plan.category in ("consultation", "suggestion") \
                else self.rng.choice(EXPLAINED_REPLIES)
            return {"outcome": "explained", "reply": reply}
        return {"outcome": "solved", "reply": SOLVED_REPLIES[plan.category]}

    def _handle(self, tl: Timeline, plan: Plan, handler: str, *, late_contact=False, slow=False) -> None:
        """签收 → 先行联系 → 办理 (with the occasional complex case, extension or progress note) → 回复."""
        tl.add(handler, "accept", {}, 0.3, 5 if not late_contact else 8)
        if plan.category == "illegal_building" and self.rng.random() < 0.5:
            tl.add(plan.place.head, "mark_complex", {"reason": COMPLEX_REASON}, 1, 20)
        self._contact(tl, handler, plan, late_contact)
        tl.add(handler, "start", {}, 0, 2)
        if self.rng.random() < 0.15:
            tl.add(handler, "comment", {"note": self.rng.choice(PROGRESS_NOTES)}, 3, 30)
        if self.rng.random() < 0.06 and self._extendable(plan):
            tl.add(handler, "request_extension", {"reason": self.rng.choice(EXTENSION_REASONS), "working_days": 5}, 4, 24)
            tl.add(plan.place.head, "approve_extension", {"note": "同意延期。"}, 1, 20)
        tl.add(handler, "resolve", self._reply(plan), 30 if slow else 3, 170 if slow else 80)

    def _close(self, tl: Timeline, plan: Plan, handler: str, *, visit=True, rate=True) -> None:
        tl.add(plan.place.head, "close", {"note": "答复属实，同意办结。"}, 1, 26)
        if visit and self.rng.random() < 0.7:
            result = "solved" if self.rng.random() < 0.82 else self.rng.choice(("unsolved", "unreachable"))
            tl.add(handler, "visit", {"result": result, "note": VISIT_NOTES[result]}, 16, 30)
        if rate and self.rng.random() < 0.6:
            score = self.rng.choices((5, 4, 3, 2, 1), weights=(55, 28, 10, 4, 3))[0]
            tl.add("reporter", "rate", {"score": score, "comment": self.rng.choice(RATING_COMMENTS[score])}, 2, 60)

    def build(self, plan: Plan, handler: str) -> Timeline:
        """The timeline of a case that ends in ``plan.final``: one step builder per final state."""
        rng, final = self.rng, plan.final
        old = final in OPEN_FINALS and rng.random() < (0.3 if plan.place.code == HOME else 0.22)
        step = self._BUILDERS.get(final)
        if step is None:
            raise ValueError(final)
        tl = getattr(self, step)(plan, handler, old)
        tl.fit_before(self.now)
        return tl

    # The step builder of each final state (the random draws of each keep their order: the demo stays the same).
    _BUILDERS = {
        "dispatched": "_dispatched", "accepted": "_accepted", "in_progress": "_in_progress",
        "resolved": "_resolved", "closed": "_closed", "closed_weak_reply": "_closed",
        "closed_rework": "_closed_rework", "closed_reassigned": "_closed_reassigned", "reopened": "_reopened",
        "returned": "_returned", "rejected": "_rejected", "withdrawn": "_withdrawn",
    }

    def _dispatched(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(5, 13) if old else self._age(0.05, 0.9))
        if old and rng.random() < 0.5:
            tl.add(plan.place.ops, "escalate", {"note": ESCALATE_NOTES[0]}, 60, 80)
        return tl

    def _accepted(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(4, 11) if old else self._age(0.1, 1.2))
        tl.add(handler, "accept", {}, 0.3, 4)
        if not old and plan.consent and rng.random() < 0.5:
            self._contact(tl, handler, plan)
        elif old and rng.random() < 0.5:
            tl.add(plan.place.ops, "escalate", {"note": ESCALATE_NOTES[0]}, 50, 70)
        return tl

    def _in_progress(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(10, 20) if old else self._age(0.5, 4))
        tl.add(handler, "accept", {}, 0.3, 4)
        self._contact(tl, handler, plan)
        tl.add(handler, "start", {}, 0, 2)
        if rng.random() < 0.4:
            tl.add(handler, "comment", {"note": rng.choice(PROGRESS_NOTES)}, 2, 20)
        if not old and rng.random() < 0.2 and self._extendable(plan):
            tl.add(handler, "request_extension", {"reason": rng.choice(EXTENSION_REASONS), "working_days": 5}, 2, 10)
        if old:
            tl.add(plan.place.ops, "escalate", {"note": ESCALATE_NOTES[1]}, 150, 200)
        return tl

    def _resolved(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(1.5, 7))
        self._handle(tl, plan, handler)
        return tl

    def _closed(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng, final = self.rng, plan.final
        tl = Timeline(rng, self._age(2, HISTORY_DAYS))
        if final == "closed_weak_reply":
            self._handle(tl, plan, handler)
            tl.add(plan.place.head, "reopen", {"reason": WEAK_REPLY_REASONS}, 1, 20)
            tl.add(handler, "resolve", self._reply(plan), 3, 30)
        else:
            late = rng.random() < 0.1
            self._handle(tl, plan, handler, late_contact=late, slow=rng.random() < 0.15)
        self._close(tl, plan, handler)
        return tl

    def _closed_rework(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(8, HISTORY_DAYS))
        self._handle(tl, plan, handler)
        self._close(tl, plan, handler, visit=False, rate=False)
        score = rng.choice((1, 2))
        if rng.random() < 0.5:
            tl.add("reporter", "rate", {"score": score, "comment": rng.choice(RATING_COMMENTS[score])}, 4, 40)
        tl.add("reporter", "reopen_by_reporter", {"reason": rng.choice(REOPEN_REASONS)}, 1, 30)
        tl.add(handler, "start", {}, 0.5, 6)
        self._contact(tl, handler, plan)
        tl.add(handler, "resolve", {"outcome": "solved", "reply": "已再次处置：" + SOLVED_REPLIES[plan.category]}, 5, 50)
        tl.add(plan.place.head, "close", {"note": "再次处置到位，同意办结。"}, 1, 20)
        tl.add(handler, "visit", {"result": "solved", "note": VISIT_NOTES["solved"]}, 16, 30)
        return tl

    def _closed_reassigned(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(6, HISTORY_DAYS))
        tl.add(handler, "return", {"reason": RETURN_REASONS[2]}, 0.5, 6)
        other = self.places[plan.reassign_to]
        tl.add(plan.place.ops, "reassign", {"neighbourhood_id": other.id, "note": REASSIGN_NOTE}, 1, 20)
        new_handler = rng.choice(other.handlers)
        plan.place = other
        self._handle(tl, plan, new_handler)
        self._close(tl, plan, new_handler)
        return tl

    def _reopened(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(4, 14))
        self._handle(tl, plan, handler)
        self._close(tl, plan, handler, visit=False, rate=False)
        if rng.random() < 0.5:
            tl.add(handler, "visit", {"result": "unsolved", "note": VISIT_NOTES["unsolved"]}, 16, 30)
            tl.add(handler, "reopen", {"reason": "回访不满意，重新办理。"}, 0.5, 4)
        else:
            score = rng.choice((1, 2))
            if rng.random() < 0.5:
                tl.add("reporter", "rate", {"score": score, "comment": rng.choice(RATING_COMMENTS[score])}, 2, 30)
            tl.add("reporter", "reopen_by_reporter", {"reason": rng.choice(REOPEN_REASONS)}, 1, 40)
        return tl

    def _returned(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(0.3, 4))
        if rng.random() < 0.5:
            tl.add(handler, "accept", {}, 0.3, 4)
        tl.add(handler, "return", {"reason": rng.choice(RETURN_REASONS[:2])}, 0.5, 10)
        return tl

    def _rejected(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(0.5, HISTORY_DAYS))
        tl.add(plan.place.head, "reject", {"reason": rng.choice(REJECT_REASONS)}, 0.5, 20)
        return tl

    def _withdrawn(self, plan: Plan, handler: str, old: bool) -> Timeline:
        rng = self.rng
        tl = Timeline(rng, self._age(0.5, HISTORY_DAYS))
        tl.add("reporter", "withdraw", {"reason": rng.choice(WITHDRAW_REASONS)}, 0.2, 6)
        return tl


# --- planning ----------------------------------------------------------------------------------------------

DEMO_RESIDENT_CASES = [
    # (username, neighbourhood, final state, category, building hint)
    ("resident.demo", HOME, "closed", "corridor_clutter", ("3号楼", "3号楼2单元")),
    ("resident.demo", HOME, "in_progress", "ebike_charging", ("3号楼", "3号楼2单元")),
    ("resident.demo", HOME, "closed_norate", "streetlight", None),
    ("resident.demo", HOME, "dispatched", "garbage", ("3号楼", "3号楼2单元")),
    ("resident.demo", HOME, "resolved", "property_service", ("3号楼", "3号楼2单元")),
    ("resident.demo", HOME, "withdrawn", "noise", ("3号楼", "3号楼2单元")),
    ("elder.demo", HOME, "closed", "corridor_clutter", ("5号楼", "5号楼1单元")),
    ("elder.demo", HOME, "accepted", "consultation", ("5号楼", "5号楼1单元")),
    ("owner.demo", "310107-YC-ZY3", "closed_rework", "elevator", ("314号楼", "314号楼1单元")),
    ("owner.demo", "310107-YC-ZY3", "in_progress", "property_service", ("314号楼", "314号楼1单元")),
    ("committee.demo", "310107-YC-ZY2", "closed", "suggestion", ("208号楼", "208号楼1单元")),
    ("committee.demo", "310107-YC-ZY2", "dispatched", "illegal_building", ("208号楼", "208号楼1单元")),
    ("family.demo", "310105-HQ-GBRH1", "closed", "elevator", None),
]


def _quota(rng: random.Random, weights: dict[str, int], n: int) -> list[str]:
    """``n`` final states in the proportions of ``weights`` (each at least once), shuffled."""
    total = sum(weights.values())
    finals = [f for f, w in weights.items() for _ in range(max(1, round(n * w / total)))]
    rng.shuffle(finals)
    return finals


def _plan_all(rng: random.Random, now: datetime, places: dict[str, Place], pool: dict[str, list[str]],
              demo_users: set[str]) -> list[Plan]:
    writer = Writer(rng)
    scenarios = Scenarios(rng, now, places)
    plans: list[Plan] = []
    codes = sorted(c for c in places if c != HOME)

    def new_plan(place: Place, reporter: str, final: str, category: str | None = None, hint=None) -> Plan:
        category = category or writer.pick_category(
            place, ["noise", "property_service", "consultation", "group_renting", "suggestion"]
            if final == "rejected" else None)
        v = writer.vars(place, category)
        if hint is not None:
            v.update(bld=hint[0], unit=hint[1], bnum=hint[0])
            building = next((b for b in place.buildings if f"{b[1]}号楼" == hint[0]), None)
            if building:
                v.update(estate_address=f"{building[0]}{hint[1]}", elevator=building[4])
        description, address = writer.text(category, v)
        lat, lng = writer.point(place)
        anonymous = rng.random() < 0.08
        consent = rng.random() >= 0.1
        return Plan(index=len(plans), place=place, reporter=reporter, category=category, description=description,
                    address=address, lat=lat, lng=lng, attributes=writer.attributes(category, v, place.prefix),
                    anonymous=anonymous, consent=consent, received=now, final=final)

    def schedule(plan: Plan) -> None:
        handler = rng.choice(plan.place.handlers)
        if plan.final == "closed_reassigned":
            street_codes = [c for c in codes if places[c].street_id == plan.place.street_id and c != plan.place.code]
            plan.reassign_to = rng.choice(street_codes)
        norate = plan.final == "closed_norate"
        if norate:
            plan.final = "closed"
        tl = scenarios.build(plan, handler)
        if norate:
            tl.steps = [s for s in tl.steps if s.kind != "rate"]
            if not any(s.kind == "visit" for s in tl.steps):
                last = tl.steps[-1].at
                tl.steps.append(Step(last + timedelta(hours=20), handler, "visit",
                                     {"result": "solved", "note": VISIT_NOTES["solved"]}))
                tl.fit_before(now)
        plan.received, plan.steps = tl.received, tl.steps
        ends = [s.at for s in tl.steps if s.kind in ("close", "reject", "withdraw", "return")]
        plan.ends_open_at = min(ends) if ends else None
        plans.append(plan)

    # The demo residents' own cases (only when those accounts exist).
    for username, code, final, category, hint in DEMO_RESIDENT_CASES:
        if username in demo_users and code in places and rules.category(category) is not None:
            place = places[code]
            if category == "elevator" and not any(b[4] for b in place.buildings):
                category = "corridor_clutter"
            plan = new_plan(place, username, final, category, hint)
            plan.anonymous, plan.consent = False, True
            schedule(plan)
    # 香泉路: staff.demo's queue.
    if HOME in places:
        for final in _quota(rng, HOME_WEIGHTS, XQL_CASES):
            schedule(new_plan(places[HOME], rng.choice(pool[HOME]), final))
    # Everywhere else, weighted by the size of the neighbourhood.
    weights = [places[c].weight for c in codes]
    for final in _quota(rng, FINAL_WEIGHTS, RANDOM_CASES):
        place = places[rng.choices(codes, weights=weights)[0]]
        schedule(new_plan(place, rng.choice(pool[place.code]), final))
    # Duplicates, merged (并单) into a case of the same neighbourhood while it was open.
    candidates = [p for p in plans if p.final not in ("rejected", "withdrawn", "closed_reassigned")
                  and p.reporter not in demo_users]
    made = 0
    for parent in rng.sample(candidates, min(len(candidates), MERGED_CASES * 3)):
        if made >= MERGED_CASES:
            break
        open_until = parent.ends_open_at or now
        window = (open_until - parent.received) - timedelta(hours=8)
        first = next((s.at for s in parent.steps if s.kind == "return"), None)
        if window <= timedelta(hours=2) or first is not None:
            continue
        received = parent.received + timedelta(seconds=rng.uniform(0.2, 0.6) * window.total_seconds())
        merge_at = _snap(received + timedelta(hours=rng.uniform(0.5, 3)), rng, 8.5, 18)
        if merge_at >= open_until - timedelta(minutes=30) or merge_at >= now - timedelta(minutes=10):
            continue
        reporters = [r for r in pool[parent.place.code] if r != parent.reporter]
        lat, lng = writer.point(parent.place)
        child = Plan(index=len(plans), place=parent.place, reporter=rng.choice(reporters), category=parent.category,
                     description="同样反映：" + parent.description, address=parent.address,
                     lat=lat, lng=lng, attributes=dict(parent.attributes),
                     anonymous=False, consent=True, received=received.replace(microsecond=0), final="merged",
                     merge_into=parent.index)
        child.steps = [Step(merge_at, rng.choice(parent.place.handlers), "merge", {"into": parent.index,
                                                                                   "note": "重复诉求，并单处理。"})]
        plans.append(child)
        made += 1
    return plans


# --- running the plans through the state machine -------------------------------------------------------------

def _user_ids(usernames: set[str]) -> dict[str, int]:
    return dict(db.session.execute(sa.select(User.username, User.id).where(User.username.in_(usernames))).all())


def already_loaded(pool: dict[str, list[str]]) -> bool:
    names = [n for names in pool.values() for n in names]
    reporters = sa.select(User.id).where(User.username.in_(names))
    return db.session.execute(sa.select(Case.id).where(Case.reporter_user_id.in_(reporters)).limit(1)).first() is not None



# Counted in the summary of `flask demo load`.
COUNTS = {"cases": Case}

def load(spec: dict, now: datetime | None = None) -> int:
    """Generate the demo cases unless they are already there; returns the rows added (reporters and cases)."""
    places = _places(spec)
    if not places:
        return 0
    pool = _pool_usernames(places)
    if already_loaded(pool):
        return 0
    rng = random.Random(SEED)
    added = _ensure_reporters(places, pool, random.Random(f"{SEED}:reporters"))
    now = (now or clock.now()).replace(microsecond=0)
    demo_users = set(_user_ids({u for u, *_ in DEMO_RESIDENT_CASES}))
    plans = _plan_all(rng, now, places, pool, demo_users)

    usernames = {p.reporter for p in plans} | {s.who for p in plans for s in p.steps if s.who != "reporter"}
    ids = _user_ids(usernames)
    missing = usernames - set(ids)
    if missing:
        raise ValueError(f"demo cases: unknown accounts {sorted(missing)[:5]}")
    actors: dict[str, object] = {}

    def actor(username: str):
        if username not in actors:
            actors[username] = people.load_actor(ids[username])
        return actors[username]

    # One queue of every step of every case, in time order (ties: plan order, then step order).
    queue: list[tuple[datetime, int, int]] = []
    for plan in plans:
        queue.append((plan.received, plan.index, -1))
        for position, step in enumerate(plan.steps):
            queue.append((step.at, plan.index, position))
    heapq.heapify(queue)
    try:
        while queue:
            at, index, position = heapq.heappop(queue)
            plan = plans[index]
            clock.set_now(at)
            if position < 0:
                _create(plan, actor(plan.reporter))
                added += 1
                continue
            step = plan.steps[position]
            if step.who == "reporter":
                reporter = actor(plan.reporter)
                if step.kind == "withdraw":
                    workflow.withdraw(reporter, plan.case_id, step.payload["reason"])
                elif step.kind == "rate":
                    workflow.rate(reporter, plan.case_id, step.payload["score"], step.payload["comment"])
                elif step.kind == "reopen_by_reporter":
                    workflow.reopen_by_reporter(reporter, plan.case_id, step.payload["reason"])
                else:
                    raise ValueError(step.kind)
                continue
            payload = dict(step.payload)
            if step.kind == "merge":
                payload = {"into_case_id": plans[payload.pop("into")].case_id, **payload}
            workflow.act(actor(step.who), plan.case_id, step.kind, payload)
    finally:
        clock.set_now(None)
    return added


def _create(plan: Plan, reporter) -> None:
    case = workflow.create_case(reporter, category_code=plan.category, description=plan.description,
                                location={"lat": plan.lat, "lng": plan.lng, "datum": "gcj02"}, address=plan.address,
                                anonymous=plan.anonymous, contact_consent=plan.consent, attributes=plan.attributes)
    plan.case_id = case.id
