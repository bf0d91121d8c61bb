"""Splitting a description into clauses (English and Chinese), and the modifiers a clause carries.

English: a request preamble ("I want to create a workflow that", "a pipeline to") is dropped;
the rest is split on commas, semicolons, sentence ends, "then", "and then", "after that",
"afterwards", "finally", and on "and" when a verb or a condition word follows it. A piece that
does not start with a verb or a condition word ("memory" in "check cpu, memory and disk",
"bob" in "approval from alice and bob") belongs to the piece before it.

Chinese: a preamble (我想创建一个工作流, 帮我建一个流水线...) is dropped; the rest is split on
``，、；。`` and on 然后/接着/随后/之后/最后/再/并且/并/同时 when a verb or a condition word
follows; leading 先/首先/然后/完成后 are dropped.

Modifiers (:func:`modifiers`): "(production only)" / "（仅生产环境）" makes the step run in
production only; "with rollback on failure" / "（失败时回滚）" adds a rollback to ``on_failure``;
"optionally" / "可选地" makes a delivery channel optional.

Literal values (quotes, URLs, e-mail addresses, paths) are masked first
(:class:`yaml2dag.library.drafting.text.Masked`), so their commas and dots never split anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from yaml2dag.library.drafting.text import VERBS, Masked, is_chinese, lemma

_PREAMBLE_EN = re.compile(
    r"(?i)^\s*(?:(?:please|can\s+you|could\s+you|would\s+you)\s+)?"
    r"(?:(?:i|we)\s+(?:want|would\s+like|'d\s+like|need|wish|'d\s+love)\s+(?:to\s+)?"
    r"(?:(?:create|make|build|set\s+up|have|get|write|define|add|automate)\s+)?"
    r"|(?:create|make|build|set\s+up|write|define|add|automate)\s+)?"
    r"(?:a|an|one|the|me\s+a)?\s*(?:new\s+|simple\s+|small\s+)?(?:workflow|pipeline|job|automation|task|dag|flow)\s*"
    r"(?:(?:that|which|to|for|where|in\s+which|who)\s+|:\s*)")
_PREAMBLE_ZH = re.compile(
    r"^\s*(?:请|麻烦|帮我|请帮我|能不能|可以)?\s*(?:我(?:们)?(?:想|要|需要|希望)(?:要)?)?\s*"
    r"(?:创建|新建|建立|建|做|搭建|写|定义|设置|弄)?\s*(?:一个|个)?\s*(?:新的)?\s*"
    r"(?:工作流|流水线|流程|自动化任务|任务|作业)\s*[,:]?\s*"
    r"(?:它|用来|用于|来|能够|可以|会|负责|要|能|其功能是)?\s*")

_FILLERS_EN = re.compile(r"(?i)^(?:(?:and|then|first|firstly|next|also|please|finally|lastly|afterwards|"
                         r"after\s+that|we\s+should|i\s+want\s+to|i'd\s+like\s+to|to|just|always|simply|"
                         r"subsequently|later|so|it\s+should|should)\s+)+")
_FILLERS_ZH = re.compile(r"^(?:先|首先|然后|接着|随后|之后|最后|再|并且|并|同时|以及|而后|完成后|结束后|做完后|"
                         r"成功完成后|还要|还|也|需要|会|请(?!求)|就|则|那么|才|便)+")
_TRAILING_ZH = re.compile(r"(?:一次|一下|一遍|呗|吧|啊|呀|哦|嘛|喔)+\s*$")

_SPLIT_EN = re.compile(r"(?i)(\s*(?:;|,|\.\s+|\band\s+then\b|\bthen\b|\bafter\s+that\b|\bafterwards\b|\bfinally\b"
                       r"|\band\s+finally\b)\s*)")
_SPLIT_ZH = re.compile(r"(\s*(?:[;,]|\.(?=\s|$|[\u3400-\u9fff]))\s*)")
_CONNECTIVE_ZH = re.compile(r"(然后再|然后|接着|随后|之后再|最后再|最后|并且|并|同时|再)")

#: Words a clause may start with besides verbs.
_STARTERS_EN = frozenset("""if when once whenever unless only on upon otherwise else in optionally every
each first then also please and finally next lastly afterwards""".split())
_STARTERS_ZH = ("拉取", "拉", "获取", "更新", "同步", "克隆", "运行", "跑", "执行", "测试", "构建", "编译", "打包",
                "部署", "发布", "上线", "审批", "请求", "等待", "等", "备份", "归档", "压缩", "检查", "监控", "通知",
                "提醒", "告警", "报警", "发送", "发", "推送", "下载", "读取", "读", "加载", "导入", "过滤", "筛选",
                "保留", "分组", "按", "计算", "统计", "汇总", "聚合", "排序", "保存", "写入", "写", "导出", "存储",
                "存", "生成", "分析", "总结", "用", "使用", "调用", "访问", "清理", "删除", "做", "安装", "记录",
                "输出", "打印", "报告", "对", "给", "把", "将", "在", "通过", "如果", "若", "假如", "要是", "当",
                "一旦", "只有", "只在", "仅在", "否则", "任何", "失败", "成功", "从", "先", "最后", "然后", "可选",
                "冒烟", "回滚", "ping", "git", "pytest", "只", "仅", "要求", "需要", "获得", "申请", "收取",
                "拉下", "抓取", "查看", "列出", "制作", "产出", "邮件", "发邮件", "审核", "批准", "清空", "结果", "代码",
                "静态检查", "单元测试", "集成测试", "冒烟", "依赖", "去", "告诉", "告知")
#: A Chinese clause may also start with its condition: 内存使用率高于80%时在 Slack 上报警.
_CONDITION_FIRST_ZH = re.compile(r"(?:时|的时候|的话|之后|以后|后)\s*,?\s*(?:就|则|才|再|便)?\s*(?:"
                                 + "|".join(re.escape(s) for s in _STARTERS_ZH) + ")")


@dataclass
class Clause:
    """One clause: ``text`` as written (a substring of the description) and its language."""

    text: str
    language: str
    masked: Masked = field(default=None)  # type: ignore[assignment]
    sep: str = ", "
    joinable: bool = False  # the separator before it is a comma or "and": it may continue the clause before
    starts: bool = True  # it starts like a clause (a verb, a condition word, a command)

    def __post_init__(self) -> None:
        if self.masked is None:
            self.masked = Masked.of(self.text)


def strip_preamble(text: str) -> str:
    """``text`` without a request preamble ("I want to create a workflow that", "我想创建一个工作流，")."""
    for regex in (_PREAMBLE_EN, _PREAMBLE_ZH):
        match = regex.match(text)
        if match and match.end() < len(text):
            return text[match.end():]
    return text


def strip_fillers(text: str, language: str) -> str:
    """A clause without leading fillers ("and", "then", "first", 先, 然后, 完成后...)."""
    if language == "zh":
        text = _FILLERS_ZH.sub("", text.strip()).strip()
        return _TRAILING_ZH.sub("", text).strip(" ,")
    return _FILLERS_EN.sub("", text.strip()).strip()


def starts_clause(text: str, language: str) -> bool:
    """Whether ``text`` (a piece after a separator) can start a clause: a verb, a condition
    word, or a literal command."""
    text = text.strip()
    if not text:
        return False
    if text[0] in "`⟦":
        return True
    if language == "zh" or is_chinese(text[:2]):
        return (text.startswith(_STARTERS_ZH) or bool(_CONDITION_FIRST_ZH.search(text))
                or not is_chinese(text[:1]) and starts_clause(text, "en"))
    first = re.split(r"[\s,()]+", text.lower(), maxsplit=1)[0]
    return lemma(first) in VERBS or first in _STARTERS_EN or lemma(first.split("-")[0]) in VERBS


def split(text: str) -> list[Clause]:
    """The pieces of ``text`` (schedules already taken out) between separators, as written;
    empty pieces are dropped. Whether a piece continues the one before it ("memory" in "check
    cpu, memory") is decided by :func:`yaml2dag.library.drafting.compose.join_pieces`, which knows what
    the grammar understands."""
    masked = Masked.of(text)
    pieces: list[tuple[str, str]] = []  # (separator before, piece)
    parts = _SPLIT_EN.split(masked.text)
    separator = ""
    for i, part in enumerate(parts):
        if i % 2 == 1:
            separator = part
            continue
        for sub_sep, sub in _split_more(part):
            pieces.append((separator if not pieces or sub_sep == "" else sub_sep, sub))
            separator = ""
    out = []
    for sep, raw in pieces:
        restored = masked.restore(raw).strip(" .,;")
        if not restored:
            continue
        language = "zh" if is_chinese(restored) else "en"
        sep_text = masked.restore(sep) or ", "
        weak = sep_text.strip().lower() in (",", "", "and", "&")
        out.append(Clause(restored, language, sep=sep_text, joinable=weak and bool(out),
                          starts=starts_clause(strip_fillers(restored, language), language)))
    return out


def _split_more(piece: str) -> list[tuple[str, str]]:
    """Split a piece on "and" + verb (English) and on Chinese separators and connectives."""
    out: list[tuple[str, str]] = []
    if is_chinese(piece):
        bits = _SPLIT_ZH.split(piece)
        sep = ""
        for i, bit in enumerate(bits):
            if i % 2 == 1:
                sep = bit
                continue
            out.extend(_split_connectives(bit, sep))
            sep = ""
        return out
    words = re.split(r"(?i)(\s+and\s+|\s+&\s+)", piece)
    current, sep = words[0], ""
    for i in range(1, len(words), 2):
        joiner, nxt = words[i], words[i + 1]
        if starts_clause(nxt, "en") and nxt.strip().split(" ", 1)[0].lower() not in ("or", "and"):
            out.append((sep, current))
            current, sep = nxt, joiner
        else:
            current = current + joiner + nxt
    out.append((sep, current))
    return out


def _split_connectives(text: str, sep: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    last = 0
    first_sep = sep
    for match in _CONNECTIVE_ZH.finditer(text):
        after = text[match.end():].lstrip()
        before = text[last:match.start()]
        if match.start() == 0 or not before.strip() or not after or not starts_clause(after, "zh"):
            continue
        if before.endswith(("如果", "若", "就", "则")):
            continue
        out.append((first_sep, before))
        first_sep = ""
        last = match.start()
    out.append((first_sep, text[last:]))
    return out


# --------------------------------------------------------------------------- modifiers


@dataclass
class Modifiers:
    """What a clause says besides its action (see the module docstring)."""

    production_only: bool = False
    rollback: bool = False
    optional: bool = False


_MODIFIERS = (
    ("production_only", r"(?i)\s*\(\s*(?:for\s+)?production\s+only\s*\)|\s*\b(?:for|in)\s+production\s+only\b"
                        r"|\s*\bonly\s+(?:for|in)\s+production\b|\s*\((?:仅|只)(?:限|在|对|用于)?生产(?:环境)?(?:时)?\)"
                        r"|(?:仅|只)(?:限|在|对|用于)?生产环境(?:时|才)?"),
    ("rollback", r"(?i)\s*,?\s*\b(?:with|and)\s+(?:a\s+|automatic\s+)?roll\s*-?back(?:\s+(?:on|upon)\s+(?:failure|error)"
                 r"|\s+if\s+it\s+fails)?\b|\s*\((?:如果)?(?:失败|出错)(?:时|后|则|就)?(?:自动)?回滚\)"
                 r"|,?(?:如果)?(?:失败|出错)(?:时|后|则|就)(?:自动)?回滚"),
    ("optional", r"(?i)\boptionally\b\s*|\s*\(optional\)|\s*\bif\s+configured\b|可选地?|(?:如果|若)配置了?的话?"),
)


def modifiers(text: str) -> tuple[str, Modifiers]:
    """(``text`` without its modifiers, the modifiers found)."""
    found = Modifiers()
    for name, regex in _MODIFIERS:
        new = re.sub(regex, " ", text)
        if new != text:
            setattr(found, name, True)
            text = new
    return " ".join(text.split()).strip(" ,"), found
