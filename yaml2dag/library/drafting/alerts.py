"""Alerts and messages: the event log, e-mail, webhooks and chat (English and Chinese).

A message phrase is a verb of telling (send, notify, alert, tell, post, email, report, log...;
通知, 提醒, 告警, 报警, 发送, 发, 推送, 报告, 记录...) followed only by words of this small
vocabulary, in any order: recipients (me, the team, ops; 我, 团队, 大家), what is sent (an email,
a message, an alert, the report, the result, the digest; 邮件, 消息, 告警, 报告, 结果, 摘要),
channels and prepositions ("on Slack", "by webhook and/or email", 在钉钉上, 通过邮件、webhook或日志),
e-mail addresses and webhook URLs. Anything else makes it not a message phrase.

Channels and the steps they make:

=====================================================  ==================================================
channel                                                step
=====================================================  ==================================================
log / 日志 (also: no channel named)                     ``notify.log``
e-mail, an address / 邮件, 邮箱                          ``notify.email`` to ``{{ email_to }}`` (SMTP from
                                                       ``YAML2DAG_SMTP_*``)
webhook, chat / 群                                      ``notify.webhook`` to ``{{ webhook_url }}``
Slack, Teams, Mattermost, Rocket.Chat                  ``notify.webhook`` (``text``, Slack-compatible)
Discord                                                ``notify.webhook`` with ``payload: {content}``
DingTalk 钉钉, WeCom 企业微信                            ``notify.webhook`` with ``payload: {msgtype: text, text: {content}}``
Feishu/Lark 飞书                                        ``notify.webhook`` with ``payload: {msg_type: text, content: {text}}``
=====================================================  ==================================================

A webhook URL is a credential (it carries the token): it is a ``secret`` parameter, read from
the environment variable of its upper-cased name (``$SLACK_WEBHOOK_URL``), unless the sentence
gave the URL. Channels joined by "or" (或) are a choice: a ``channel`` parameter picks one;
channels joined by "and/or" (和/或) or said "optionally" (可选) are each optional: an empty
address or URL parameter (the default) skips that step. The message says what the condition
is about (the failed step and its error, the measured value over its threshold), or carries
"the report"/"the result" (the output of the step before), or that the run finished.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from yaml2dag.library.drafting.builder import StepSpec
from yaml2dag.library.drafting.verbs import Context, Intent
from yaml2dag.library.drafting.text import Masked
from yaml2dag.library.drafting.verbs import match

_VERBS_EN = {"send", "notify", "alert", "tell", "message", "ping", "post", "email", "e-mail", "mail", "deliver", "report",
             "announce", "warn", "page", "inform", "forward", "share", "log", "print", "show", "output", "record"}
_WORDS_EN = {
    "recipient": {"me", "us", "team", "ops", "everyone", "on-call", "oncall", "people", "users", "admin", "admins", "dev",
                  "devs", "developers", "owner", "owners", "maintainers", "engineers", "someone", "them", "sre", "staff"},
    "content": {"email", "e-mail", "mail", "message", "notification", "notifications", "alert", "warning", "digest", "report",
                "summary", "result", "results", "it", "output", "outcome", "status", "update", "news", "note", "quick",
                "short", "daily"},
    "prep": {"to", "via", "on", "in", "through", "by", "with", "at", "into", "using", "over", "as", "about", "channel",
             "microsoft"},
    "conj": {"and", "or", "and/or", ",", "&", "/"},
}
_CHANNELS_EN = {"slack": "slack", "teams": "teams", "discord": "discord", "mattermost": "mattermost",
                "rocket.chat": "rocketchat", "rocketchat": "rocketchat", "webhook": "webhook", "chat": "chat",
                "email": "email", "e-mail": "email", "mail": "email", "log": "log", "console": "log",
                "dingtalk": "dingtalk", "wecom": "wecom", "feishu": "feishu", "lark": "feishu"}
_RESULT_WORDS = {"digest", "report", "summary", "result", "results", "it", "output", "outcome", "status", "摘要", "报告",
                 "结果", "日报", "内容", "它", "状态", "这"}

_VERBS_ZH = ("通知", "提醒", "告警", "报警", "发送", "发", "推送", "发到", "发给", "报告", "汇报", "转发", "记录", "输出",
             "打印", "投递", "送达", "报", "发个", "发一下", "通报", "告诉", "告知")
_WORDS_ZH = ("我", "我们", "团队", "大家", "运维", "运维人员", "值班人员", "值班", "管理员", "开发", "开发人员", "相关人员",
             "负责人", "所有人", "邮件", "电子邮件", "消息", "通知", "告警", "报警", "提醒", "摘要", "报告", "结果", "日报",
             "内容", "一封", "一条", "警告", "它", "这", "状态", "给", "到", "在", "上", "用", "通过", "以", "向", "至",
             "里", "中", "的", "把", "将", "使用", "和", "或", "和/或", ",", "及", "以及", "或者", "与", "群", "群里",
             "频道", "聊天群", "邮箱", "钉钉", "企业微信", "飞书", "日志", "并", "一下", "一个", "封", "条", "都")
_CHANNELS_ZH = {"邮件": "email", "电子邮件": "email", "邮箱": "email", "钉钉": "dingtalk", "企业微信": "wecom",
                "飞书": "feishu", "日志": "log", "群": "chat", "群里": "chat", "频道": "chat", "聊天群": "chat"}


@lru_cache(maxsize=None)
def _zh_vocabulary() -> tuple[str, ...]:
    return tuple(sorted(set(_VERBS_ZH) | set(_WORDS_ZH), key=len, reverse=True))


def _segment_zh(text: str) -> list[str] | None:
    """Split ``text`` into vocabulary words (Chinese), ASCII words and literals, or None."""
    def walk(i: int) -> list[str] | None:
        if i == len(text):
            return []
        ascii_word = re.match(r"⟦\d+⟧|#[\w-]+|and/or|和/或|[a-z][a-z0-9.]*", text[i:], re.I)
        options = [ascii_word.group(0)] if ascii_word else []
        options += [w for w in _zh_vocabulary() if text.startswith(w, i)]
        for word in options:
            if not re.fullmatch(r"⟦\d+⟧|#[\w-]+", word) and word.isascii() and word.lower() not in _CHANNELS_EN \
                    and word.lower() not in ("and/or", "webhook") and word not in _WORDS_ZH:
                continue
            rest = walk(i + len(word))
            if rest is not None:
                return [word, *rest]
        return None
    return walk(0)


def read_message(form: str, language: str) -> dict | None:
    """The parts of a message phrase (see the module docstring), or None when it is not one.

    Returns:
        ``{"verb", "channels": [...], "literals": [...], "joiner": "and"|"or"|"and/or",
        "result": bool}``.
    """
    if language == "zh":
        words = _segment_zh(form)
        if not words or not any(w in _VERBS_ZH or w in ("告警", "报警", "通知", "提醒") for w in words):
            return None
        channels = [_CHANNELS_ZH.get(w) or _CHANNELS_EN.get(w.lower()) for w in words]
        verb = next(w for w in words if w in _VERBS_ZH or w in ("告警", "报警", "通知", "提醒"))
    else:
        words = re.findall(r"⟦\d+⟧|#[\w-]+|and/or|rocket\.chat|e-mail|on-call|[\w-]+|,|&|/", form.lower())
        if not words or words[0] not in _VERBS_EN:
            return None
        verb = words[0]
        known = set().union(*_WORDS_EN.values(), _CHANNELS_EN, _VERBS_EN)
        if any(not (w in known or re.fullmatch(r"⟦\d+⟧|#[\w-]+", w)) for w in words[1:]):
            return None
        channels = [_CHANNELS_EN.get(w) if i or w in ("email", "e-mail", "mail", "log") else None for i, w in enumerate(words)]
        if words[0] in ("email", "e-mail", "mail"):
            channels[0] = "email"
    found = [c for c in channels if c]
    literals = [w for w in words if re.fullmatch(r"⟦\d+⟧", w)]
    joiner = "and"
    if len(set(found)) > 1:
        between = " ".join(words[words.index(next(w for w, c in zip(words, channels) if c)):])
        if re.search(r"and/or|和/或", between):
            joiner = "and/or"
        elif re.search(r"(?<![\w/])(?:or|或|或者)(?![\w/])", between):
            joiner = "or"
    return {"verb": verb, "channels": list(dict.fromkeys(found)), "literals": literals, "joiner": joiner,
            "result": any(w in _RESULT_WORDS for w in words[1:])}


#: Steps whose output is worth sending when a message does not say what it carries.
_REPORTING = ("commits", "text", "backup", "check", "messages")


def _content(ctx: Context, wants_result: bool, source: tuple[dict, StepSpec] | None = None) -> str:
    """What the message says (see the module docstring); ``source`` is the step (and its spec)
    whose output is sent, when it is not the latest step of the draft."""
    if ctx.resolved.topic and not wants_result:
        return ctx.resolved.topic
    if source is None:
        step = ctx.last()
        source = (step, ctx.builder.specs[step["id"]]) if step is not None else None
    if source is not None and not wants_result and source[1].produces in _REPORTING:
        wants_result = True
    if source is None or not wants_result:
        return ctx.resolved.topic or "{{ run.workflow }}: run {{ run.id }} finished"
    step, spec = source
    sid, produces = step["id"], spec.produces
    if produces == "commits" and "for_each" in step:
        return "{% for r in " + sid + ".results %}## {{ r.item }}\n\n{{ r.output }}\n\n{% endfor %}"
    if produces == "frame":
        return "{{ run.workflow }}: {{ " + sid + ".rows }} row(s)\n{{ " + sid + ".output }}"
    if produces == "backup":
        return ("Backed up {{ " + sid + ".count }} file(s) into {{ " + sid + ".archive }} ({{ " + sid
                + ".bytes }} bytes); retention removed {{ " + sid + ".removed | length }} old archive(s)")
    if produces == "check":
        return "{{ run.workflow }}: {{ " + sid + ".count }} alert(s): {{ " + sid + ".alerts | map(attribute='message') | join('; ') }}"
    if produces == "messages":
        return "{{ " + sid + ".count }} new message(s)"
    return "{{ " + sid + ".output }}"


_PAYLOADS = {
    "discord": lambda text: {"payload": {"content": text}},
    "dingtalk": lambda text: {"payload": {"msgtype": "text", "text": {"content": text}}},
    "wecom": lambda text: {"payload": {"msgtype": "text", "text": {"content": text}}},
    "feishu": lambda text: {"payload": {"msg_type": "text", "content": {"text": text}}},
}
_SERVICE_NAMES = {"slack": "Slack", "teams": "Microsoft Teams", "discord": "Discord", "mattermost": "Mattermost",
                  "rocketchat": "Rocket.Chat", "dingtalk": "DingTalk", "wecom": "WeCom", "feishu": "Feishu/Lark",
                  "webhook": "a webhook", "chat": "a chat webhook"}


def _build(m: re.Match, ctx: Context, source: tuple[dict, StepSpec] | None = None) -> list[StepSpec]:
    parts = read_message(m.group(0), ctx.language)
    assert parts is not None  # the intent's accept check read it already
    literals = [ctx.masked.value(x) or "" for x in parts["literals"]]
    addresses = [x for x, p in zip(literals, parts["literals"]) if ctx.masked.kind(p) == "email"]
    urls = [x for x, p in zip(literals, parts["literals"]) if ctx.masked.kind(p) == "url"]
    channels = list(parts["channels"])
    if addresses and "email" not in channels:
        channels.append("email")
    if urls and not any(c not in ("email", "log") for c in channels):
        channels.append("webhook")
    if not channels:
        channels = ["log"]
    text = _content(ctx, parts["result"] or source is not None, source)
    alerting = bool(ctx.resolved.topic) or ctx.resolved.failure
    choice = parts["joiner"] == "or" and len(channels) > 1
    optional = ctx.modifiers.optional or (parts["joiner"] == "and/or" and len(channels) > 1)
    specs = []
    for channel in channels:
        spec = _channel(channel, text, ctx, addresses, urls, optional or choice, alerting, test_empty=not choice)
        if choice:
            spec.whens.append(f"channel == '{channel if channel in ('email', 'log') else 'webhook'}'")
        specs.append(spec)
    if choice:
        names = ["email" if c == "email" else "log" if c == "log" else "webhook" for c in channels]
        ctx.declare("channel", {"type": "string", "default": "log" if "log" in names else names[0], "enum": names,
                                "description": "Where the message goes"})
    return specs


def _channel(channel: str, text: str, ctx: Context, addresses: list[str], urls: list[str], optional: bool,
             alerting: bool, test_empty: bool = True) -> StepSpec:
    aliases = ("notify", "notification", "alert", "message", "通知", "告警")
    if channel == "log":
        params: dict[str, Any] = {"message": text}
        if alerting:
            params["level"] = "error" if ctx.resolved.failure else "warning"
        return StepSpec("report" if not alerting and ctx.last() is not None and "{{ run.id }}" not in text else "notify",
                        "notify", "log", params, aliases=aliases, never_fails=True)
    if channel == "email":
        decl: dict[str, Any] = {"type": "string", "description": "Who gets the e-mail (comma-separated addresses)"}
        if addresses or optional:
            decl["default"] = ", ".join(addresses) if addresses else ""
        name = ctx.declare("email_to", decl)
        subject = ("{{ run.workflow }} failed" if ctx.resolved.failure else
                   "[yaml2dag] {{ run.workflow }}: alert" if alerting else "{{ run.workflow }}: run {{ run.id }}")
        spec = StepSpec("email", "notify", "email", {"to": "{{ " + name + " }}", "subject": subject, "body": text},
                        aliases=("email", "e-mail", "mail", "邮件", *aliases))
        if optional and test_empty and not addresses:
            spec.whens.append(f"{name} != ''")
        return spec
    service = "webhook" if channel in ("webhook", "chat") else channel
    pname = "webhook_url" if service == "webhook" else f"{service}_webhook_url"
    where = _SERVICE_NAMES.get(channel, channel)
    if urls:
        decl = {"type": "string", "default": urls[0], "description": f"Incoming webhook URL of {where}"}
    elif optional:
        decl = {"type": "string", "default": "", "description": f"Incoming webhook URL of {where}; empty sends nothing"}
    else:
        decl = {"type": "secret", "description": f"Incoming webhook URL of {where} (a credential: read from "
                                                  f"${pname.upper()})"}
    name = ctx.declare(pname, decl)
    params = {"url": "{{ " + name + " }}"}
    params.update(_PAYLOADS[service](text) if service in _PAYLOADS else {"text": text})
    spec = StepSpec("notify", "notify", "webhook", params, aliases=aliases,
                    extra={"retry": {"max_attempts": 3, "backoff": "exponential", "delay": 5}})
    if optional and test_empty and not urls:
        spec.whens.append(f"{name} != ''")
    return spec


# --------------------------------------------------------------------------- "send <thing> to <channel>"

_SEND_EN = (r"(?P<verb>send|email|e-mail|mail|post|deliver|share|forward)\s+(?:(?:me|us|team|ops)\s+)?(?P<obj>.+?)"
            r"\s+(?P<rest>(?:to|via|on|by|in|through)\s+.+)")
_SEND_ZH = r"(?:把|将)(?P<obj>.+?)(?P<rest>(?:发送|发到|发给|发|推送|通过|用|在).+)"


def _object_intent(found: re.Match, masked: Any, language: str):
    """The lexicon entry (not a message) that the object of "send <object> to ..." is, or None."""
    obj = found["obj"]
    if language == "en" and not re.match(r"(?:generate|create|make|build|collect|produce|list|summari[sz]e)\b", obj):
        obj = "generate " + obj  # "send a report of git commits" = generate it, then send it
    hit = match(Masked(obj, masked.values, masked.kinds), language)
    return hit if hit is not None and hit[0].name not in ("message", "send") else None


def _accept_send(found: re.Match, masked: Any) -> bool:
    language = "zh" if re.search(r"[\u3400-\u9fff]", found.group(0)) else "en"
    words = found["rest"] if language == "zh" else f"{found['verb']} {found['rest']}"
    return _object_intent(found, masked, language) is not None and read_message(words, language) is not None


def _build_send(m: re.Match, ctx: Context) -> list[StepSpec]:
    intent, hit = _object_intent(m, ctx.masked, ctx.language)
    made = intent.build(hit, ctx)
    if not made:
        return []
    ids = ctx.builder.next_ids([spec.kind for spec in made])
    source = ({"id": ids[-1], **made[-1].extra}, made[-1])
    words = m["rest"] if ctx.language == "zh" else f"{m['verb']} {m['rest']}"
    message = re.fullmatch(r".+", words)
    return made + _build(message, ctx, source)


def _accept(found: re.Match, masked: Any) -> bool:
    language = "zh" if re.search(r"[\u3400-\u9fff]", found.group(0)) else "en"
    parts = read_message(found.group(0), language)
    if parts is None:
        return False
    return all(masked.kind(x) in ("email", "url") for x in parts["literals"])


INTENTS = [
    Intent("send", _SEND_EN, _SEND_ZH, _build_send,
           ("send a daily report of git commits to the team on Slack", "把 git 提交报告发到 Slack"), accept=_accept_send),
    Intent("message", r".+", r".+", _build,
           ("send me an email alert", "notify the team on Slack", "alert by webhook and/or email", "report the result",
            "deliver the digest by email, webhook or log", "给我发邮件告警", "在钉钉上通知我", "通过邮件、webhook 或日志发送摘要",
            "报告结果"), accept=_accept),
]

__all__ = ["INTENTS", "read_message"]
