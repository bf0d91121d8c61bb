"""Table phrases (English and Chinese) → steps of the ``data`` tool (yaml2dag/tools/data: the
``read``, ``transform``, ``analyze`` and ``write`` actions and their parameter schemas).

====================================================================  =============================================
phrase (examples)                                                     step
====================================================================  =============================================
download the CSV from URL / 从 URL 下载 CSV                             ``data.read`` ``url: "{{ csv_url }}"``
read data/orders.csv / read a table / 读取 orders.csv / 读取一张表        ``data.read`` ``path: "{{ source }}"``
filter rows where price > 100 / keep only rows where status is 'paid'  ``data.transform`` ``filter: "price > 100"``
筛选数量大于10的行 / 只保留状态为paid的行 / filter (alone)                  (alone: a ``row_filter`` parameter)
compute average price per category / total sales by region            ``data.transform`` ``group_by: {by, agg}``
count rows per status / 按类别计算平均价格 / 统计每个状态的订单数量          (``count`` for counts)
aggregate it / 聚合 (alone)                                             ``group_column`` + ``aggregations`` parameters
sort by price descending / 按价格降序排序                                ``data.transform`` ``sort``
profile it / analyze the data / 做数据概况分析                           ``data.analyze``
save to sqlite / write the result to out.parquet / store as CSV/SQLite  ``data.write`` (one per target; files are
保存到 SQLite / 写入 reports/sales.parquet / 保存为 CSV 和 SQLite          replaced, SQLite tables replaced)
====================================================================  =============================================

Column names are kept as written (their case too); a filter becomes a pandas expression that
the data tool checks and evaluates (yaml2dag/tools/data/expressions.py). A step on a table reads
the latest table step before it (``input: "{{ download.output }}"``); without one the phrase is
refused ("say where the data comes from").
"""

from __future__ import annotations

import re
from typing import Any

from yaml2dag.format.model import slugify
from yaml2dag.library.drafting.builder import Refusal, StepSpec
from yaml2dag.library.drafting.verbs import LIT, Context, Intent, kind_is, url_parameter

_FUNCS = {"average": "mean", "avg": "mean", "mean": "mean", "total": "sum", "sum": "sum", "max": "max", "maximum": "max",
          "highest": "max", "largest": "max", "min": "min", "minimum": "min", "lowest": "min", "smallest": "min",
          "median": "median", "平均": "mean", "平均值": "mean", "均值": "mean", "总": "sum", "总和": "sum", "总计": "sum",
          "之和": "sum", "合计": "sum", "最大": "max", "最大值": "max", "最小": "min", "最小值": "min", "中位": "median",
          "中位数": "median"}
_FUNC_EN = r"(?P<func>average|avg|mean|total|sum|max|maximum|highest|largest|min|minimum|lowest|smallest|median)"
_COL = r"[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*"
_OPS_EN = [(r"(?:is\s+)?(?:greater\s+than\s+or\s+equal\s+to|at\s+least|>=)", ">="), (r"(?:is\s+)?(?:less\s+than\s+or\s+equal\s+to|at\s+most|<=)", "<="),
           (r"(?:is\s+|are\s+)?(?:greater\s+than|more\s+than|above|over|higher\s+than|exceeds?|>)", ">"),
           (r"(?:is\s+|are\s+)?(?:less\s+than|below|under|lower\s+than|<)", "<"),
           (r"(?:is\s+not|are\s+not|isn't|does\s+not\s+equal|!=|<>|not\s+equal\s+to)", "!="),
           (r"(?:is|are|equals?|==|=|is\s+equal\s+to)", "==")]
_OPS_ZH = [("大于等于|不少于|不低于|>=", ">="), ("小于等于|不多于|不高于|<=", "<="), ("大于|超过|高于|多于|>", ">"),
           ("小于|低于|少于|不足|<", "<"), ("不等于|不是|不为|!=", "!="), ("等于|为|是|==|=", "==")]
_FORMAT = r"(?:csv|sqlite|sqlite3|parquet|json|database|db|数据库|表格)"
_TABLE_SUFFIX = re.compile(r"\.(?:csv|tsv|json|jsonl|parquet|sqlite3?|db)(?:\.gz)?(?:[?#].*)?$", re.I)


def _frame(ctx: Context, what: str) -> str:
    step = ctx.last("frame")
    if step is None:
        raise Refusal(f"there is no table before it to {what}: say where the data comes from first, e.g. "
                      "\"download the CSV from https://...\" or \"read data.csv\"")
    return "{{ " + step["id"] + ".output }}"


def _transform(kind: str, ctx: Context, operations: list, declares: dict | None = None,
               aliases: tuple[str, ...] = ()) -> StepSpec:
    return StepSpec(kind, "data", "transform", {"input": _frame(ctx, kind), "operations": operations},
                    declares or {}, (kind, *aliases), produces="frame")


# --------------------------------------------------------------------------- read


def _read(m: re.Match, ctx: Context) -> list[StepSpec]:
    literal = m.groupdict().get("src")
    value = ctx.lit(literal)
    fmt = (m.groupdict().get("fmt") or "").lower() or None
    params: dict[str, Any] = {}
    if literal and ctx.masked.kind(literal) == "url":
        is_csv = fmt == "csv" or re.search(r"\.csv(?:\.gz)?(?:[?#].*)?$", value or "", re.I) is not None
        params["url"] = url_parameter(ctx, "csv_url" if is_csv else "data_url", value, "URL of the table to download")
        kind = "download"
    else:
        decl: dict[str, Any] = {"type": "string", "description": "Table file to read (CSV, JSON, Parquet)"}
        if value:
            decl["default"] = value
        params["path"] = "{{ " + ctx.fresh("source", decl) + " }}"
        kind = "read"
    if fmt in ("csv", "json", "parquet") and not (value and _TABLE_SUFFIX.search(value)):
        params["format"] = fmt
    return [StepSpec(kind, "data", "read", params, aliases=(kind, "data", "table", "数据", "表"), produces="frame")]


def _accept_read(found: re.Match, masked: Any) -> bool:
    literal = found.groupdict().get("src")
    if not literal:
        return True
    value = masked.value(literal) or ""
    return masked.kind(literal) in ("url", "path") and bool(found.groupdict().get("fmt") or _TABLE_SUFFIX.search(value))


# --------------------------------------------------------------------------- transform


def _value(text: str, ctx: Context) -> str:
    """A filter value as a pandas literal: numbers as they are, text quoted (``repr``).

    Raises:
        Refusal: the value holds ``{{``/``{%`` (it would be rendered as a template at run time).
    """
    text = text.strip()
    literal = ctx.masked.value(text) if re.fullmatch(LIT, text) else None
    if "{{" in (literal or text) or "{%" in (literal or text):
        raise Refusal("a filter value with {{ or {% would be rendered as a template when the step runs; "
                      "write the condition in the workflow file instead")
    if literal is not None:
        return repr(literal)
    if re.fullmatch(r"-?\d+(?:\.\d+)?", text):
        return text
    if text.lower() in ("true", "false"):
        return text.capitalize()
    return repr(text)


def expression(text: str, ctx: Context) -> str | None:
    """A filter's words as a pandas expression ("price > 100", "status == 'paid'"), or None."""
    parts = re.split(r"\s+(and|or)\s+|(并且|而且|且|或者|或)", text.strip())
    out: list[str] = []
    for i, part in enumerate(parts):
        if part is None:
            continue
        if i % 3:
            out.append("and" if part in ("and", "并且", "而且", "且") else "or")
            continue
        one = _comparison(part.strip(), ctx)
        if one is None:
            return None
        out.append(one)
    return " ".join(out) if out else None


def _comparison(text: str, ctx: Context) -> str | None:
    chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
    for regex, op in (_OPS_ZH if chinese else _OPS_EN):
        pattern = (rf"(?P<col>{_COL}?)\s*(?:{regex})\s*(?P<val>.+?)(?:的(?:行|记录|数据|订单|条目|项))?" if chinese
                   else rf"(?P<col>{_COL})\s*(?:{regex})\s*(?P<val>.+)")
        match = re.fullmatch(pattern, text, re.I)
        if match and match["col"] and match["val"]:
            return f"{match['col']} {op} {_value(match['val'], ctx)}"
    match = re.fullmatch(rf"(?P<col>{_COL})\s+contains?\s+(?P<val>.+)", text, re.I)
    if match:
        return f"{match['col']}.str.contains({_value(match['val'], ctx)})"
    return None


def _filter(m: re.Match, ctx: Context) -> list[StepSpec]:
    words = m.groupdict().get("cond")
    if not words:
        decl = {"type": "string", "description": "Which rows to keep: a pandas condition on the columns, e.g. \"price > 0\""}
        name = ctx.fresh("row_filter", decl)
        return [_transform("filter", ctx, [{"filter": "{{ " + name + " }}"}], aliases=("过滤", "筛选"))]
    expr = expression(words, ctx)
    if expr is None:
        raise Refusal(f"the filter {words!r} is not understood: write it like \"rows where price > 100\" or "
                      "\"rows where status is 'paid'\"")
    return [_transform("filter", ctx, [{"filter": expr}], aliases=("过滤", "筛选"))]


def _aggregate(m: re.Match, ctx: Context) -> list[StepSpec]:
    groups = {k: v for k, v in m.groupdict().items() if v}
    by = groups.get("by")
    if not by:
        declares = {"group_column": {"type": "string", "description": "Column whose values make the groups"},
                    "aggregations": {"type": "object", "description": "Column → function (sum, mean, max, count...) per group"}}
        return [_transform("aggregate", ctx, [{"group_by": {"by": "{{ group_column }}", "agg": "{{ aggregations }}"}}],
                           declares, ("聚合", "汇总"))]
    by_cols = [c for c in re.split(r"\s+and\s+|和|及|,", by) if c]
    func_word = (groups.get("func") or groups.get("func2") or "").lstrip("的")
    verb = groups.get("verb", "")
    counting = groups.get("count") or func_word in ("数量", "个数", "总数", "count", "number") or (
        not func_word and verb in ("统计",) and not groups.get("col"))
    if counting:
        # the count column is named by the word used for it: "count", or 数量/个数 in Chinese
        name = func_word if func_word in ("数量", "个数", "总数") else "count"
        spec = {"by": by_cols if len(by_cols) > 1 else by_cols[0], "count": name}
    else:
        func = _FUNCS.get(func_word.lower()) or ("sum" if verb in ("汇总", "合计", "total") else None)
        col = groups.get("col")
        if func is None or not col:
            raise Refusal("say what is computed per group, e.g. \"average price per category\"")
        spec = {"by": by_cols if len(by_cols) > 1 else by_cols[0], "agg": {col: func}}
    return [_transform("aggregate", ctx, [{"group_by": spec}], aliases=("聚合", "汇总", "group", "aggregation"))]


def _sort(m: re.Match, ctx: Context) -> list[StepSpec]:
    descending = bool(re.search(r"desc|highest|largest|降序|从高到低|从大到小", m.group(0), re.I))
    return [_transform("sort", ctx, [{"sort": {"by": m["col"], "descending": descending}}], aliases=("排序",))]


def _limit(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [_transform("top", ctx, [{"limit": int(m["n"])}])]


def _analyze(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [StepSpec("profile", "data", "analyze", {"input": _frame(ctx, "profile"), "correlations": True},
                     aliases=("profile", "analysis", "概况", "分析"), produces="profile")]


# --------------------------------------------------------------------------- write

_SUFFIX_FORMAT = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet",
                  ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite"}


def _write(m: re.Match, ctx: Context) -> list[StepSpec]:
    source = _frame(ctx, "save")
    targets = re.findall(rf"{LIT}|{_FORMAT}", m["targets"], re.I)
    table = m.groupdict().get("table")
    slug = slugify(ctx.builder.name).strip("_") or "result"
    specs = []
    for target in dict.fromkeys(targets):
        path = ctx.lit(target) if re.fullmatch(LIT, target) else None
        if path:
            fmt = next((f for s, f in _SUFFIX_FORMAT.items() if path.lower().endswith(s)), "csv")
        else:
            fmt = {"database": "sqlite", "db": "sqlite", "数据库": "sqlite", "sqlite3": "sqlite", "表格": "csv"}.get(
                target.lower(), target.lower())
            path = f"{slug}.{fmt}"
        name = ctx.fresh(f"output_{fmt}", {"type": "string", "default": path, "description": f"Where the {fmt} file is written"})
        params: dict[str, Any] = {"input": source, "path": "{{ " + name + " }}"}
        if fmt == "sqlite":
            params.update(table=table or "result", if_exists="replace")
        else:
            params["overwrite"] = True
        specs.append(StepSpec(f"save_{fmt}", "data", "write", params, aliases=("save", "store", "保存", "写入"),
                              produces="path"))
    if not specs:
        raise Refusal("say where to save it: a file (out.csv, out.parquet) or \"sqlite\"")
    return specs


_ROWS = r"(?:only\s+)?(?:rows?|records?|lines|entries|data|orders|items)?\s*(?:where|with|whose|that\s+have|having|for\s+which)?"
_THING = r"(?:it|them|result|results|data|table|output|summary|aggregate|aggregation)"

INTENTS = [
    Intent("read", rf"(?:download|fetch|get|pull|grab|read|load|import|open)\s+(?:(?P<fmt>csv|json|parquet)\s+)?"
                   rf"(?:data\s+|table\s+|file\s+|dataset\s+|spreadsheet\s+)?(?:from\s+|at\s+)?(?P<src>{LIT})"
                   r"|(?:read|load|import|open)\s+(?:(?P<fmt2>csv|json|parquet)\s+)?(?:table|file|dataset|data|spreadsheet)",
           rf"(?:从)?(?P<src>{LIT})(?:下载|获取|读取|拉取|抓取|加载|导入)(?:(?P<fmt>csv|json|parquet)(?:文件)?|数据|表格|文件)?"
           rf"|(?:下载|获取|读取|加载|导入)(?:(?P<fmt2>csv|json|parquet)(?:文件)?|数据|表格)?(?P<src2>{LIT})"
           r"|(?:读取|加载|导入)(?:一张|一个)?(?:表|表格|数据表|数据|csv文件|文件)",
           lambda m, c: _read(_Alt(m), c), ("download the CSV from https://example.com/data.csv", "read data/orders.csv",
                                            "从 https://example.com/data.csv 下载 CSV"),
           accept=lambda m, masked: _accept_read(_Alt(m), masked), form="light"),
    Intent("top", r"(?:keep|take|show)\s+(?:only\s+)?(?:top|first)\s+(?P<n>\d+)(?:\s+rows)?",
           r"(?:只)?(?:保留|取)前(?P<n>\d+)(?:行|条)", _limit, ("keep the top 10 rows",), form="light"),
    Intent("filter", rf"(?:filter|keep|select|retain)(?:\s+out)?\s+{_ROWS}\s*(?P<cond>.+)|filter(?:\s+{_THING})?",
           r"(?:只)?(?:过滤|筛选|保留|选出|挑出)(?:出)?(?P<cond>.+?)(?:的(?:行|记录|数据|订单|条目))?|(?:过滤|筛选)(?:一下)?(?:数据)?",
           _filter, ("filter rows where price > 100", "keep only rows where status is 'paid'", "筛选数量大于10的行"),
           form="light"),
    Intent("aggregate",
           rf"(?P<verb>compute|calculate|get|find|show|work\s+out|produce|summari[sz]e|aggregate)\s+(?:the\s+)?{_FUNC_EN}\s+(?:of\s+)?(?P<col>{_COL})"
           rf"\s+(?:per|by|for\s+each|for\s+every|across|grouped\s+by|in\s+each)\s+(?P<by>{_COL}(?:\s+and\s+{_COL})?)"
           rf"|(?P<count>count|number\s+of)\s+(?:{_COL}\s+)?(?:per|by|for\s+each)\s+(?P<by2>{_COL})"
           rf"|{_FUNC_EN.replace('func', 'func3')}\s+(?:of\s+)?(?P<col3>{_COL})\s+(?:per|by)\s+(?P<by3>{_COL})"
           r"|(?:group\s+and\s+)?aggregate(?:\s+it|\s+them|\s+data)?",
           rf"(?:按|根据)(?P<by>{_COL}?)(?:分组)?,?(?P<verb>计算|统计|求|汇总|算出?|合计)(?P<func>平均|总|最大|最小|中位)?的?(?P<col>{_COL}?)"
           r"(?P<func2>的?(?:平均值|均值|总和|总计|总数|最大值|最小值|中位数|数量|个数|之和))?"
           rf"|(?P<verb2>计算|统计|求)每个(?P<by2>{_COL}?)的(?P<func3>平均|总|最大|最小|中位)?(?P<col2>{_COL}?)"
           r"(?P<func4>的?(?:平均值|均值|总和|总计|总数|最大值|最小值|中位数|数量|个数|之和))?|(?:分组)?聚合(?:一下)?(?:数据)?",
           lambda m, c: _aggregate(_Alt(m), c), ("compute average price per category", "count rows per status",
                                                 "按类别计算平均价格"), form="light"),
    Intent("sort", rf"(?:sort|order|rank)\s+(?:{_THING}\s+|rows\s+)?by\s+(?P<col>{_COL})"
                   r"(?:\s+(?:desc|descending|asc|ascending|in\s+descending\s+order|in\s+ascending\s+order|from\s+highest|largest\s+first))?",
           rf"(?:按|根据)(?P<col>{_COL}?)(?:降序|升序|从高到低|从大到小|从低到高|从小到大)?排序", _sort,
           ("sort by price descending", "按价格降序排序"), form="light"),
    Intent("profile", rf"(?:profile|analy[sz]e|describe)(?:\s+{_THING}|\s+dataset)?",
           r"(?:做|进行|生成)?(?:一下)?(?:数据)?(?:概况|画像|统计|探索性)?(?:分析|概况|画像)(?:数据|一下)?",
           _analyze, ("profile it", "做数据概况分析")),
    Intent("write", rf"(?:save|write|store|export|persist|dump|output)\s+(?:{_THING}\s+)?(?:(?:as|to|into|in)\s+)?"
                    rf"(?P<targets>(?:{LIT}|{_FORMAT})(?:\s*(?:/|,|and|or|&|\+)\s*(?:{LIT}|{_FORMAT}))*)(?:\s+(?:file|database))?"
                    rf"(?:\s+(?:as\s+|in\s+)?table\s+(?P<table>[A-Za-z_]\w*))?(?:\s+(?:as|to|into|in)\s+(?P<more>{LIT}))?",
           rf"(?:把|将)?(?:{_THING}|结果|数据|它|汇总结果|输出)?(?:保存|写入|存储|存|导出|输出|写)(?:为|到|成|进|至)?"
           rf"(?P<targets>(?:{LIT}|{_FORMAT})(?:(?:和|、|,|/|及|或)(?:{LIT}|{_FORMAT}))*)(?:文件|数据库)?(?:的?(?P<table>[A-Za-z_]\w*)表)?",
           lambda m, c: _write(_Targets(m), c), ("save to sqlite", "write the result to out.parquet", "保存到 SQLite"),
           accept=kind_is("path", groups=("more",))),
]


class _Alt:
    """A match where a group ``x`` missing is taken from ``x2``, ``x3``... (alternatives)."""

    def __init__(self, match: re.Match):
        self._match = match
        values: dict[str, Any] = {}
        for name, value in match.groupdict().items():
            base = re.sub(r"\d+$", "", name)
            if value is not None and values.get(base) is None:
                values[base] = value
            values.setdefault(base, None)
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values.get(key)

    def groupdict(self) -> dict:
        return dict(self._values)

    def group(self, index: int = 0) -> str:
        return self._match.group(index)


class _Targets(_Alt):
    def __init__(self, match: re.Match):
        super().__init__(match)
        if self._values.get("more"):
            self._values["targets"] = f"{self._values['targets']} {self._values['more']}"
