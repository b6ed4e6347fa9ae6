# ruff: noqa: RUF001, E501 - corpus data: Chinese keeps its full-width punctuation; one sentence a line
"""A labelled test corpus for rumour matching (DS-11), Chinese and English, built deterministically.

Every rumour has a claim (as a regulator would state it), a hand-written light rewording and a
hand-written *near miss*: the same topic and many of the same words, but a different claim, which
must not match. From these, `build()` derives outputs:

positives (must match their claim)
    verbatim · formatting (full-width, case, spaces, punctuation) · insertion (hedges and filler
    words inserted inside the claim) · embedded (the claim in the middle of a 4-10 sentence
    article) · paraphrase · paraphrase_embedded · paraphrase_insertion
negatives (must match no claim)
    unrelated (articles made of unrelated sentences) · near_miss · near_miss_embedded

Used by the unit tests (the configured threshold must meet the figures in
docs/rumour-matching.md) and by `python -m bench.rumour_matching quality`, which prints the table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

POSITIVE_KINDS = (
    "verbatim",
    "formatting",
    "insertion",
    "embedded",
    "paraphrase",
    "paraphrase_embedded",
    "paraphrase_insertion",
)
NEGATIVE_KINDS = ("unrelated", "near_miss", "near_miss_embedded")


@dataclass(frozen=True)
class Rumour:
    """A claim with its hand-written rewording and near miss."""

    key: str
    lang: str
    claim: str
    paraphrase: str
    near_miss: str


RUMOURS: tuple[Rumour, ...] = (
    Rumour(
        "zh-quake",
        "zh",
        "某市今晚将发生8级以上强烈地震，请市民立即撤离到空旷地带。",
        "某市今夜会发生八级以上的强烈地震，市民们请马上撤离到空旷的地方。",
        "某市地震局今天举行了防震减灾演练，市民积极参加疏散到空旷地带的练习。",
    ),
    Rumour(
        "zh-salt",
        "zh",
        "多吃碘盐可以预防核辐射，各大超市的食盐已被抢购一空。",
        "大量食用碘盐能够预防核辐射，各个超市里的食盐都被抢光了。",
        "专家提醒碘盐不能预防核辐射，各大超市食盐供应充足价格稳定。",
    ),
    Rumour(
        "zh-bank",
        "zh",
        "某银行即将破产倒闭，储户的存款明天起将无法取出。",
        "某银行马上就要破产倒闭了，储户存款从明天开始将不能取出。",
        "某银行发布年报，储户存款规模稳步增长，明天起将推出新的理财产品。",
    ),
    Rumour(
        "zh-water",
        "zh",
        "自来水厂被投毒，全市停止供水三天，请大家赶紧储水。",
        "自来水厂遭人投毒，全市将停水三天，请各位赶快储存饮用水。",
        "自来水厂完成设备检修，全市供水水质检测合格，请大家放心饮用。",
    ),
    Rumour(
        "zh-exam",
        "zh",
        "今年高考数学试卷已经泄露，考前在网上花五百元就能买到答案。",
        "今年高考数学试题已经泄露，考试前在网上花五百块钱就可以买到答案。",
        "教育部门提醒考生，网上所谓高考试卷答案均为诈骗，切勿花钱购买。",
    ),
    Rumour(
        "zh-vaccine",
        "zh",
        "接种疫苗后会导致不孕不育，已有上千名年轻女性出现严重副作用。",
        "打完疫苗以后会导致不孕不育，已经有一千多名年轻女性出现了严重的副作用。",
        "疫苗接种工作有序推进，年轻女性接种后出现的轻微副作用均已缓解。",
    ),
    Rumour(
        "zh-flood",
        "zh",
        "水库大坝已经决堤，洪水将在两小时内淹没下游的整个县城。",
        "水库大坝已然决堤，洪水会在两个小时之内淹没下游整座县城。",
        "水库大坝经过加固后安全度汛，下游县城组织了防汛应急演练。",
    ),
    Rumour(
        "zh-food",
        "zh",
        "市面上销售的塑料大米是用塑料颗粒制成的，吃了会致癌。",
        "市场上卖的塑料大米其实是用塑料颗粒做成的，吃下去会导致癌症。",
        "市面上销售的大米经抽检全部合格，塑料颗粒不可能制成大米。",
    ),
    Rumour(
        "zh-celebrity",
        "zh",
        "著名歌手张某在演唱会后台突发心脏病去世，经纪公司已证实消息。",
        "知名歌手张某在演唱会的后台突然心脏病发作去世，其经纪公司已经证实了这一消息。",
        "著名歌手张某在演唱会后台接受采访，经纪公司宣布新专辑下月发行。",
    ),
    Rumour(
        "zh-traffic",
        "zh",
        "从下个月起全市实行单双号限行，违者一律罚款两千元并扣十二分。",
        "自下月开始全市施行单双号限行，违反者一律罚款两千块并扣除十二分。",
        "全市交通管理部门表示下个月不会实行单双号限行，请市民不要轻信。",
    ),
    Rumour(
        "zh-lottery",
        "zh",
        "转发这条消息到十个群，就能免费领取运营商赠送的一百元话费。",
        "把这条消息转发到十个群里，就可以免费领到运营商送的一百元话费。",
        "运营商提醒用户，近期推出的话费优惠活动需要在官方营业厅办理。",
    ),
    Rumour(
        "zh-panda",
        "zh",
        "动物园的大熊猫因饲养员虐待而死亡，园方一直隐瞒真相。",
        "动物园里的大熊猫因为被饲养员虐待而死去，园方始终在隐瞒真相。",
        "动物园的大熊猫迎来生日，饲养员为它准备了特制的竹子蛋糕。",
    ),
    Rumour(
        "en-bleach",
        "en",
        "Drinking a teaspoon of bleach every morning cures the virus within three days, doctors confirm.",
        "Doctors have confirmed that a daily morning teaspoon of bleach will cure the virus in just three days.",
        "Doctors warn that drinking bleach is dangerous and can never cure the virus, poison centres report.",
    ),
    Rumour(
        "en-5g",
        "en",
        "The new 5G towers installed downtown are spreading the disease and making residents sick.",
        "Newly installed 5G towers in the downtown area are spreading disease and making the residents ill.",
        "The new 5G towers installed downtown passed every safety inspection, the city council said.",
    ),
    Rumour(
        "en-bank",
        "en",
        "First National Bank will freeze all customer accounts on Monday, so withdraw your savings now.",
        "On Monday First National Bank is going to freeze every customer account, withdraw your savings today.",
        "First National Bank will open two new branches on Monday and extend its savings account offers.",
    ),
    Rumour(
        "en-election",
        "en",
        "Polling stations will be closed on election day, and voting will only be possible by text message.",
        "Election day polling stations are closing, and voting will only be possible by sending a text message.",
        "Polling stations will open early on election day, and officials remind voters to bring their ID cards.",
    ),
    Rumour(
        "en-shark",
        "en",
        "A great white shark was found swimming in the flooded subway station after the storm last night.",
        "After last night's storm a great white shark was spotted swimming in a flooded subway station.",
        "The subway station flooded after the storm last night and trains were suspended until morning.",
    ),
    Rumour(
        "en-celebrity",
        "en",
        "The famous actor John Marlow died in a car crash yesterday, his family confirmed this morning.",
        "Famous actor John Marlow was killed in a car crash yesterday, as his family confirmed this morning.",
        "The famous actor John Marlow won an award yesterday, and his family celebrated this morning.",
    ),
    Rumour(
        "en-water",
        "en",
        "The city water supply has been contaminated with arsenic, and officials are hiding the test results.",
        "Officials are hiding test results showing that the city water supply is contaminated with arsenic.",
        "The city water supply passed its annual arsenic test, and officials published the results online.",
    ),
    Rumour(
        "en-airport",
        "en",
        "All flights from the international airport are cancelled for a month because of a secret military exercise.",
        "Every flight from the international airport has been cancelled for a month due to a secret military exercise.",
        "The international airport will add new flights next month after the renovation of terminal two.",
    ),
    Rumour(
        "en-food",
        "en",
        "Instant noodles take thirty two days to digest and leave a toxic wax coating in your stomach.",
        "It takes instant noodles thirty two days to digest, and they leave a toxic wax layer in the stomach.",
        "Instant noodles are high in salt, nutritionists say, and should be eaten with vegetables.",
    ),
    Rumour(
        "en-school",
        "en",
        "All public schools will close permanently next week because teachers will no longer be paid.",
        "Next week every public school will close for good because the teachers will stop being paid.",
        "All public schools will hold parent teacher meetings next week to discuss the new curriculum.",
    ),
    Rumour(
        "en-moon",
        "en",
        "NASA admitted that the moon landing footage was filmed in a studio in the Nevada desert.",
        "NASA has admitted the footage of the moon landing was shot in a studio in the desert of Nevada.",
        "NASA restored the original moon landing footage and released it in high definition this week.",
    ),
    Rumour(
        "en-tax",
        "en",
        "The government will tax every text message at one dollar starting from the first of January.",
        "Starting on the first of January the government is going to charge a one dollar tax on every text message.",
        "The government will cut the tax on mobile phone contracts starting from the first of January.",
    ),
)

FILLER = {
    "zh": (
        "今天天气晴朗，气温适宜，适合外出散步。",
        "这家餐厅的红烧肉味道非常好，价格也很实惠。",
        "新学期开始了，孩子们背着书包高高兴兴地去上学。",
        "图书馆最近新增了一批科普读物，欢迎市民前来借阅。",
        "周末的公园里人很多，有人放风筝，有人跑步。",
        "春节期间，各地举办了丰富多彩的民俗文化活动。",
        "这款手机的电池续航能力比上一代提升了很多。",
        "社区组织志愿者为独居老人打扫卫生、送去温暖。",
        "研究人员发现适量运动有助于改善睡眠质量。",
        "城市地铁新线路开通后，市民出行更加方便了。",
        "博物馆正在展出一批珍贵的古代青铜器。",
        "农民们正在田里忙着收割金黄的稻谷。",
        "这部电影讲述了一个关于友情和成长的故事。",
        "专家建议每天喝足量的水，保持均衡饮食。",
        "小区门口新开了一家便利店，二十四小时营业。",
        "足球比赛进入加时赛，双方球员都拼尽了全力。",
    ),
    "en": (
        "The weather was mild today, and many families went out for a walk in the park.",
        "The new library branch opened its doors with a reading hour for children.",
        "Local farmers brought fresh apples and honey to the Saturday market.",
        "The museum has opened an exhibition of early photography from the last century.",
        "Our team finished the quarterly report ahead of schedule this week.",
        "The recipe calls for two cups of flour, one egg and a pinch of salt.",
        "Researchers say that regular exercise improves the quality of sleep.",
        "The football match went into extra time after a late equaliser.",
        "A new bicycle lane now connects the university with the railway station.",
        "The orchestra will perform a programme of classical music on Friday evening.",
        "Volunteers planted three hundred trees along the river bank on Sunday.",
        "The software update improves battery life and fixes several bugs.",
        "The bakery on the corner is famous for its sourdough bread.",
        "Students presented their science projects at the annual fair.",
        "The hiking trail offers beautiful views of the valley below.",
        "The council approved the budget for repairing the old bridge.",
    ),
}

HEDGES = {
    "zh": ("据说", "网传", "刚刚", "紧急通知", "竟然", "有消息称", "震惊"),
    "en": ("reportedly", "apparently", "BREAKING", "sources say", "shockingly", "insiders claim", "really"),
}

_FULL_WIDTH = {
    ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
}


@dataclass(frozen=True)
class Output:
    """One labelled output: its text, and the rumour it carries (None for negatives)."""

    output_id: str
    lang: str
    kind: str
    text: str
    carries: str | None


def _insert_hedges(text: str, lang: str, rng: random.Random, count: int = 3) -> str:
    if lang == "zh":
        chars = list(text)
        for _ in range(count):
            chars.insert(rng.randrange(1, len(chars)), rng.choice(HEDGES["zh"]))
        return "".join(chars)
    words = text.split()
    for _ in range(count):
        words.insert(rng.randrange(1, len(words)), rng.choice(HEDGES["en"]))
    return " ".join(words)


def _formatting(text: str, lang: str) -> str:
    if lang == "zh":
        return " ".join(text.translate(_FULL_WIDTH)).replace("，", "！！ ").replace("。", "……")
    return "  ".join(text.upper().translate(_FULL_WIDTH).split()).replace(",", " ;; ") + " !!!"


def _article(lang: str, rng: random.Random, middle: str | None, sentences: int) -> str:
    body = rng.sample(FILLER[lang], sentences)
    if middle is not None:
        body.insert(rng.randrange(0, len(body) + 1), middle)
    return ("" if lang == "zh" else " ").join(body)


def build(seed: int = 7, unrelated_per_lang: int = 60) -> list[Output]:
    """The whole labelled corpus (deterministic for a seed)."""
    rng = random.Random(seed)
    out: list[Output] = []

    def add(r: Rumour | None, lang: str, kind: str, text: str, carries: bool) -> None:
        name = r.key if r else lang
        out.append(Output(f"{name}/{kind}/{len(out)}", lang, kind, text, r.key if r and carries else None))

    for r in RUMOURS:
        add(r, r.lang, "verbatim", r.claim, True)
        add(r, r.lang, "formatting", _formatting(r.claim, r.lang), True)
        add(r, r.lang, "insertion", _insert_hedges(r.claim, r.lang, rng), True)
        add(r, r.lang, "embedded", _article(r.lang, rng, r.claim, rng.randint(4, 10)), True)
        add(r, r.lang, "paraphrase", r.paraphrase, True)
        add(r, r.lang, "paraphrase_embedded", _article(r.lang, rng, r.paraphrase, rng.randint(4, 10)), True)
        add(r, r.lang, "paraphrase_insertion", _insert_hedges(r.paraphrase, r.lang, rng), True)
        add(r, r.lang, "near_miss", r.near_miss, False)
        add(r, r.lang, "near_miss_embedded", _article(r.lang, rng, r.near_miss, rng.randint(4, 10)), False)
    for lang in ("zh", "en"):
        for _ in range(unrelated_per_lang):
            add(None, lang, "unrelated", _article(lang, rng, None, rng.randint(1, 8)), False)
    return out
