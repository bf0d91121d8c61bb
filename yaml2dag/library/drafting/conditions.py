"""Conditions: reading them from a clause (English and Chinese) and making them ones that can fire.

Reading (:func:`split`):

* outcome - "X if T passes/succeeds/works", "X if T fails/breaks/is down", "X unless T passes",
  "if T passes, X", "after T passes X"; 如果T通过就X, T通过后X, T失败时X, 如果失败就X ("it"/它 or
  no subject: the step before);
* failure of the workflow - "on failure X", "X if anything fails", 任何步骤失败时X → ``on_failure``;
* a measured value - "X if disk usage is above 90%", "only when the disk is above 90%",
  "when memory usage exceeds 85%", "if the disk is full"; 磁盘使用率超过90%时X, 当内存高于80%时X;
* "only when something is over" / 只有超过时 - any threshold of the system check;
* rows - "if there are any rows", "if the result is empty";
* "otherwise X" / 否则X - the opposite of the condition before.

Making them fire (:func:`resolve`) - every ``when`` tests something that can be true:

* a value condition tests the value in the system check's result (``check_system.metrics``, the
  ``system`` tool's result fields), never the step's failure: ``system.check`` succeeds when the
  disk is full (its alerts are data). Without a check before it, one is added. The threshold
  becomes a parameter (``disk_threshold``) used by both the check and the condition;
* "if it fails" about a system check means "if a threshold is exceeded"
  (``check_system.count > 0``, the number of alerts), and the report says so;
* a step whose failure a later step tests gets ``on_error: continue``;
* refused, with the reason: a percentage that can never be above its value (``above 100%``) or
  below it (``below 0%``); a failure of a step that never fails (a log message, a wait); a
  condition about a step that does not come before it.
"""

from __future__ import annotations

import re

from yaml2dag.library.drafting.builder import Builder, Refusal
from yaml2dag.library.drafting.checks import METRICS, check_spec, metric_of, threshold_decl
from yaml2dag.library.drafting.verbs import Condition, Context, Resolved
from yaml2dag.library.drafting.clauses import starts_clause

_PASS = (r"(?:pass|passes|passed|succeed|succeeds|succeeded|work|works|worked|(?:is|are|was|were)\s+(?:green|ok|okay|"
         r"successful|fine|up|healthy|approved|passing)|goes\s+well|go\s+well|went\s+well|gets?\s+approved|"
         r"completes?\s+successfully|is\s+granted)")
_FAIL = (r"(?:fail|fails|failed|break|breaks|broke|(?:is|are|was|were|goes|go)\s+(?:red|down|broken|unreachable|unavailable|"
         r"unhealthy|failing|not\s+(?:ok|up|reachable|available|healthy))|(?:does|do|did)\s*(?:n't|\s+not)\s+"
         r"(?:pass|succeed|work|respond)|goes\s+wrong|go\s+wrong|went\s+wrong|errors?|crash|crashes|crashed|times?\s+out|"
         r"(?:is|are|gets?)\s+rejected)")
_DONE = r"(?:(?:it\s+is\s+|it's\s+|everything\s+is\s+|all\s+is\s+)?(?:done|finished|complete|completed)|it\s+(?:finishes|completes))"
_ANY = r"(?:anything|something|any\s+step|a\s+step|any\s+of\s+them|(?:the\s+)?(?:workflow|run|pipeline|job)|it\s+all|everything)"
_METRIC_EN = r"(?P<metric>disk(?:\s+space)?|disks|storage|memory|ram|mem|cpu|processor|load(?:\s+average)?|usage|utili[sz]ation|it)"
_ABOVE = r"above|over|greater\s+than|more\s+than|higher\s+than|exceeds?|exceeding|beyond|past|>|at\s+least|>=|≥"
_BELOW = r"below|under|less\s+than|lower\s+than|<|at\s+most|<=|≤"
_NUM = r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>%|percent|per\s*cent)?"
_METRIC_COND = (rf"(?:the\s+)?{_METRIC_EN}(?:\s+(?:usage|use|utili[sz]ation|space|load|level|percentage|percent))?"
                rf"(?:\s+(?:is|are|gets|get|goes|go|rises|rise|reaches|reach|climbs|climb|stays|stay))?\s*(?P<op>{_ABOVE}|{_BELOW})\s*{_NUM}(?:\s+full)?")
_FULL = rf"(?:the\s+)?{_METRIC_EN}(?:\s+(?:usage|use|space))?\s+(?:is|gets|get|goes|go)\s+(?:almost\s+|nearly\s+)?(?:full|high|too\s+high|critical)"
_ANY_OVER = (r"(?:something|anything|a\s+metric|any\s+metric|a\s+threshold|any\s+threshold|it)\s+(?:is\s+|goes\s+)?"
             r"(?:over|above|exceeded|exceeds|is\s+exceeded|crossed|out\s+of\s+range)(?:\s+(?:its|a|the)\s+thresholds?)?"
             r"|(?:a|any)\s+threshold\s+is\s+(?:exceeded|crossed)")
_ROWS = (r"(?P<some>(?:there\s+(?:are|is)|it\s+(?:has|finds|returns)|(?:it\s+)?(?:has|finds)|any)\s+(?:any\s+)?(?:new\s+)?"
         r"(?:rows?|results?|records?|matches|lines|data|messages?|emails?))"
         r"|(?P<none>(?:the\s+)?(?:result|it|output|table)\s+is\s+empty|there\s+are\s+no\s+(?:rows|results|records)|nothing\s+matches)")
_KW = r"(?:if|when|once|whenever|in\s+case|provided\s+that|as\s+soon\s+as|after)"

# Chinese
_PASS_ZH = r"(?:通过|成功|没问题|正常|顺利完成|被批准|批准|ok)"
_FAIL_ZH = r"(?:失败|出错|报错|不通过|没通过|未通过|挂了|挂掉|宕机|不可用|无法访问|访问不了|超时|异常|被拒绝|有问题|没成功)"
_ANY_ZH = r"(?:(?:任何|任一|任意|有)(?:一个)?(?:步骤|环节|任务)|整个(?:工作流|流程|流水线)|工作流|流程|流水线|某个步骤|任何一步)"
_METRIC_ZH = r"(?P<metric>磁盘|硬盘|存储|内存|cpu|处理器|负载|系统负载)?"
_OP_ZH = r"(?P<op>超过|超出|高于|大于|多于|达到|不低于|>=|>|低于|小于|少于|不足|<)"
_METRIC_COND_ZH = (rf"{_METRIC_ZH}(?:的)?(?:空间)?(?:使用率|占用率|使用量|占用|用量|利用率)?(?:是否)?{_OP_ZH}"
                   r"(?:(?P<num>\d+(?:\.\d+)?)(?P<unit>%|百分之)?|(?P<thr>阈值|阀值|限制))?")
_PREFIX_ZH = r"(?:如果|若|假如|要是|一旦|当|只有(?:在)?|只在|仅在|仅当|只要|如)"
_THEN_ZH = r"(?:就|则|那么|才|再|便|马上|立即)"
_WHEN_ZH = r"(?:时|的时候|的话|之后|以后|后)"


def _outcome_zh(text: str) -> Condition | None:
    if re.fullmatch(rf"{_ANY_ZH}(?:都)?{_FAIL_ZH}了?", text):
        return Condition("failure", text)
    match = re.fullmatch(rf"(?P<subj>.*?)(?:都)?(?P<outcome>{_FAIL_ZH}|{_PASS_ZH}|完成)了?", text)
    if match:
        if match["outcome"] == "完成":
            return Condition("done", text)
        return Condition("outcome", text, subject=match["subj"], passed=re.fullmatch(_PASS_ZH, match["outcome"]) is not None)
    return None


def parse(text: str, language: str) -> Condition | None:
    """The condition in the words ``text`` (without "if"/如果), or None when they are not one."""
    text = text.strip().strip(",")
    if language == "zh":
        found = _outcome_zh(text)
        if found:
            return found
        match = re.fullmatch(_METRIC_COND_ZH, text, re.I)
        if match and (match["num"] or match["thr"] or match["metric"] is None):
            if not match["num"]:
                return Condition("any_over", text)
            op = ">" if match["op"] not in ("低于", "小于", "少于", "不足", "<") else "<"
            return Condition("metric", text, metric=metric_of(match["metric"] or ""), op=op, value=float(match["num"]))
        match = re.fullmatch(r"(?P<metric>磁盘|硬盘|内存|cpu)(?:快|将要|几乎)?(?:满了|满|太高|过高|告急)", text, re.I)
        if match:
            return Condition("metric", text, metric=metric_of(match["metric"]), op=">", value=None)
        if re.fullmatch(r"(?:有|存在)(?:新的?)?(?:数据|结果|记录|行|邮件)", text):
            return Condition("rows", text, passed=True)
        if re.fullmatch(r"(?:没有|无)(?:数据|结果|记录|行)|结果为空", text):
            return Condition("rows", text, passed=False)
        return None
    low = text.lower()
    if re.fullmatch(_DONE, low):
        return Condition("done", text)
    if re.fullmatch(rf"{_ANY}\s+{_FAIL}", low):
        return Condition("failure", text)
    match = re.fullmatch(_METRIC_COND, low)
    if match:
        op = ">" if re.fullmatch(_ABOVE, match["op"]) else "<"
        return Condition("metric", text, metric=metric_of(match["metric"]), op=op, value=float(match["num"]))
    match = re.fullmatch(_FULL, low)
    if match:
        return Condition("metric", text, metric=metric_of(match["metric"]), op=">", value=None)
    if re.fullmatch(_ANY_OVER, low):
        return Condition("any_over", text)
    match = re.fullmatch(_ROWS, low)
    if match:
        return Condition("rows", text, passed=match["some"] is not None)
    match = re.fullmatch(rf"(?P<subj>.+?)\s+(?P<outcome>{_PASS}|{_FAIL})", low)
    if match:
        return Condition("outcome", text, subject=match["subj"], passed=re.fullmatch(_PASS, match["outcome"]) is not None)
    return None


def split(text: str, language: str) -> tuple[str, Condition | None, str | None]:
    """(action words, condition, the condition words as written) of a clause.

    The action is empty for a clause that is only a condition ("if tests pass", 如果测试通过),
    which applies to the next clause. A clause with "if"/"when" whose condition is not
    understood is returned whole with the condition None and the words in the third item.
    """
    text = text.strip()
    if language == "zh":
        return _split_zh(text)
    low = text.lower()
    match = re.fullmatch(r"(?:otherwise|else|if\s+not)\s*,?\s*(?P<act>.+)", low)
    if match:
        return text[match.start("act"):], Condition("otherwise", text[:match.start("act")].strip(" ,")), None
    match = re.fullmatch(r"(?:on|upon|in\s+case\s+of)\s+(?:a\s+|any\s+)?(?:failure|error|errors)(?:\s*,?\s*(?P<act>.+))?", low)
    if match:
        act = text[match.start("act"):] if match["act"] else ""
        return act, Condition("failure", text[:match.start("act")] if act else text), None
    match = re.fullmatch(rf"(?P<act>.+?)\s+(?:(?:on|upon)\s+(?:failure|error|errors)|if\s+(?:it|that)\s+fails?\s+to\s+run)", low)
    if match:
        return text[:match.end("act")], Condition("failure", text[match.end("act"):].strip()), None
    match = re.fullmatch(rf"(?:but\s+)?(?:only\s+)?(?P<kw>{_KW}|unless)\s+(?P<cond>.+?)(?:\s*,\s*(?:then\s+)?(?P<act>.+))?", low)
    if match and (match["act"] is None or parse(text[match.start("cond"):match.end("cond")], "en")):
        cond_text = text[match.start("cond"):match.end("cond")]
        found = parse(cond_text, "en")
        act = text[match.start("act"):] if match["act"] else ""
        if found is None and not act:  # "if it fails post a message": the action follows without a comma
            cond_text, found, act = _condition_then_action(text, match.start("cond"))
        if found and match["kw"] == "unless":
            found = _negate(found)
        return act, found, None if found else cond_text
    match = re.fullmatch(rf"(?P<act>.+?)\s*,?\s+(?:but\s+)?(?:only\s+)?(?P<kw>{_KW}|unless)\s+(?P<cond>.+)", low)
    if match:
        cond_text = text[match.start("cond"):]
        found = parse(cond_text, "en")
        if found and match["kw"] == "unless":
            found = _negate(found)
        if found is None and match["kw"] == "after":
            return text, None, None  # "after" that is not a condition is word order only
        return text[:match.end("act")], found, None if found else cond_text
    return text, None, None


def _condition_then_action(text: str, start: int) -> tuple[str, Condition | None, str]:
    """After "if": the shortest words from ``start`` that are a condition and are followed by
    words that start a clause ("if it fails post a message" → "it fails", "post a message")."""
    rest = text[start:]
    for gap in re.finditer(r"\s+(?:then\s+)?", rest):
        cond, act = rest[:gap.start()], rest[gap.end():]
        found = parse(cond, "en")
        if found and act and starts_clause(act, "en"):
            return cond, found, act
    return rest, None, ""


def _split_zh(text: str) -> tuple[str, Condition | None, str | None]:
    match = re.fullmatch(r"(?:否则|不然|要不然)(?:的话)?,?(?P<act>.+)", text)
    if match:
        return match["act"], Condition("otherwise", "否则"), None
    match = re.fullmatch(rf"{_PREFIX_ZH}\s*(?P<cond>.+?)\s*{_WHEN_ZH}?\s*,?\s*{_THEN_ZH}\s*(?P<act>.+)", text)
    if match:
        found = parse(match["cond"], "zh")
        return match["act"], found, None if found else match["cond"]
    match = re.fullmatch(rf"{_PREFIX_ZH}\s*(?P<cond>.+?)\s*{_WHEN_ZH}?", text)
    if match:
        found = parse(match["cond"], "zh")
        if found:
            return "", found, None
    for found_match in re.finditer(_WHEN_ZH, text):
        cond = re.sub(rf"^{_PREFIX_ZH}", "", text[:found_match.start()]).strip(" ,")
        act = re.sub(rf"^\s*,?\s*{_THEN_ZH}?\s*", "", text[found_match.end():])
        found = parse(cond, "zh") if cond and act else None
        if found:
            return act, (None if found.kind == "done" else found), None
    for found_match in re.finditer(_THEN_ZH, text):  # 测试失败就发邮件, 超过80%就告警
        cond = re.sub(rf"^{_PREFIX_ZH}", "", text[:found_match.start()]).strip(" ,")
        act = text[found_match.end():].strip(" ,")
        found = parse(cond, "zh") if cond and act else None
        if found:
            return act, (None if found.kind == "done" else found), None
    match = re.fullmatch(rf"(?P<act>.+?)\s*,?\s*(?:但?前提是|条件是|但要|只要|如果|若|当)\s*(?P<cond>.+?)(?:的话|时|的时候)?", text)
    if match:  # the condition after the action: 部署到生产环境，前提是测试通过
        found = parse(match["cond"], "zh")
        if found:
            return match["act"], found, None
    return text, None, None


def _negate(cond: Condition) -> Condition:
    if cond.kind in ("outcome", "rows"):
        cond.passed = not cond.passed
    elif cond.kind == "metric":
        cond.op = "<=" if cond.op == ">" else ">="
    return cond


# --------------------------------------------------------------------------- resolving


def metric_value(check_id: str, metric: str, op: str) -> str:
    """The expression reading ``metric`` from a ``system.check`` step's result fields
    (``metrics``: cpu_percent, memory.percent, disks[].percent, load_avg; see
    yaml2dag/tools/system.py): the fullest disk for "above", the emptiest for "below"."""
    if metric == "disk":
        pick = "max" if op.startswith(">") else "min"
        return f"({check_id}.metrics.disks | map(attribute='percent') | {pick})"
    return {"memory": f"{check_id}.metrics.memory.percent", "cpu": f"{check_id}.metrics.cpu_percent",
            "load": f"{check_id}.metrics.load_avg[0]"}[metric]


_LABELS = {"disk": "disk usage", "memory": "memory usage", "cpu": "CPU usage", "load": "the 1-minute load average"}


def resolve(cond: Condition | None, ctx: Context, previous: list[str] | None = None) -> Resolved:
    """Apply ``cond`` to the draft of ``ctx`` (see the module docstring); ``previous`` is the
    ``when`` list of the previous conditional step (for "otherwise").

    Raises:
        Refusal: the condition can never be true, or names a step that is not before it.
    """
    out = Resolved()
    builder = ctx.builder
    if cond is None or cond.kind == "done":
        return out
    if cond.kind == "failure":
        out.failure = True
        out.topic = "{{ run.workflow }} failed at step {{ failed_step }}: {{ error }}"
        return out
    if cond.kind == "otherwise":
        if not previous:
            raise Refusal("\"otherwise\" needs a condition before it")
        out.whens.append("not (" + " and ".join(previous) + ")")
        return out
    if cond.kind == "outcome":
        target = builder.subject(cond.subject)
        if target is None:
            subject = re.sub(r"(?i)^(?:the|all|all\s+the|our|my|its)\s+", "", cond.subject.strip())
            raise Refusal(f"no step called {subject!r} before it")
        spec = builder.specs[target]
        if spec.label == "system.check":
            return _any_over(target, builder, out, note=f"`{target}` (system.check) succeeds even when a threshold is "
                             f"exceeded; \"{cond.text}\" is read as \"a threshold is exceeded\" "
                             f"(`{target}.count > 0`)", passed=cond.passed)
        if spec.never_fails and not cond.passed:
            raise Refusal(f"`{target}` ({spec.label}) never fails, so a step that waits for its failure would never run")
        if cond.passed:
            out.whens.append(f"{target}.succeeded")
        else:
            out.whens.append(f"{target}.status == 'failed'")
            out.topic = "{{ run.workflow }}: step " + target + " failed: {{ " + target + ".error }}"
        out.continue_on.append(target)
        return out
    if cond.kind == "rows":
        source = builder.last("frame", "messages")
        if source is None:
            raise Refusal("there is no table or mailbox before it whose rows could be counted")
        field = "rows" if builder.specs[source["id"]].produces == "frame" else "count"
        out.whens.append(f"{source['id']}.{field} {'>' if cond.passed else '=='} 0")
        return out
    check = builder.last("check")
    if cond.kind == "any_over":
        if check is None:
            raise Refusal("no system check before it: say what is checked, e.g. \"check cpu, memory and disk\"")
        return _any_over(check["id"], builder, out)
    metric = cond.metric
    if metric is None:  # "usage is above 90%": the check's only metric
        measured = [m for m in METRICS if check is not None and METRICS[m][0] in check["parameters"]]
        if len(measured) != 1:
            raise Refusal(f"say which usage \"{cond.text}\" is about: disk, memory, cpu or load")
        metric = measured[0]
    value = cond.value
    if value is not None and _never(metric, cond.op, value):
        word = "above" if cond.op.startswith(">") else "below"
        scale = "the load average is never below 0" if metric == "load" else \
            f"{_LABELS[metric]} is a percentage from 0 to 100: it can never be {word} {value:g}%"
        raise Refusal(f"{scale}, so this step would never run")
    if check is None:
        spec = check_spec([metric], ctx)
        if value is not None:
            spec.declares = {f"{metric}_threshold": threshold_decl(metric, value)}
        sid = builder.add(f"check {metric}", spec, name=f"Check {_LABELS[metric]}")
        out.added.append(sid)
        check = builder.step(sid)
        out.notes.append(f"`{sid}` (system.check) is added to measure {_LABELS[metric]}")
    key = METRICS[metric][0]
    param = f"{metric}_threshold"
    decl = threshold_decl(metric, value)
    declared = builder.parameters.get(param)
    if (value is not None and declared is not None and check["parameters"].get(key) == "{{ " + param + " }}"
            and param not in builder.compared):
        declared["default"] = decl["default"]  # the check's own threshold: the sentence says which
    if key not in check["parameters"]:
        param = builder.fresh_parameter(param, decl)
        check["parameters"][key] = "{{ " + param + " }}"
    elif value is not None and builder.parameters.get(param, {}).get("default") != value:
        param = builder.fresh_parameter(param, decl)
    elif param not in builder.parameters:
        param = builder.fresh_parameter(param, decl)
    builder.compared.add(param)
    expr = f"{metric_value(check['id'], metric, cond.op)} {cond.op} {param}"
    out.whens.append(expr)
    unit = "" if metric == "load" else "%"
    word = {">": "over", ">=": "at least", "<": "under", "<=": "at most"}[cond.op]
    out.topic = ("{{ run.workflow }}: " + _LABELS[metric] + " on {{ " + check["id"] + ".metrics.hostname }} is {{ "
                 + metric_value(check["id"], metric, cond.op) + " }}" + unit + f" ({word} " + "{{ " + param + " }}" + unit + ")")
    return out


def _any_over(check_id: str, builder: Builder, out: Resolved, note: str | None = None, passed: bool = False) -> Resolved:
    out.whens.append(f"{check_id}.count == 0" if passed else f"{check_id}.count > 0")
    if not passed:
        out.topic = ("{{ run.workflow }}: {{ " + check_id + ".count }} alert(s) on {{ " + check_id
                     + ".metrics.hostname }}: {{ " + check_id + ".alerts | map(attribute='message') | join('; ') }}")
    if note:
        out.notes.append(note)
    return out


def _never(metric: str, op: str, value: float) -> bool:
    """Whether ``value op threshold`` can never hold: percentages are 0-100, loads are >= 0."""
    high = None if metric == "load" else 100.0
    if op == ">":
        return high is not None and value >= high
    if op == ">=":
        return high is not None and value > high
    if op == "<":
        return value <= 0
    return value < 0


__all__ = ["parse", "split", "resolve", "metric_value"]
