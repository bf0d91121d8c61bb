"""Lexicon entries for everyday operations, English and Chinese (see :mod:`.verbs` for the form
the patterns see).

======================================================  ==============================================
phrase (examples)                                       step
======================================================  ==============================================
pull latest code / 拉取最新代码 / update the repo         ``git.pull`` in ``{{ repo_dir }}`` (default ``.``)
clone URL [into DIR] / clone or update a git repository  ``git.clone`` (``if_exists: pull`` for "or update")
check out branch B / 切换到分支 B                         ``git.checkout``
run tests / run the unit tests / 运行测试                  shell ``pytest -q [tests/unit]``
smoke-test / 冒烟测试                                    shell, command from ``smoke_test_command``
lint the code / 代码检查                                  shell ``ruff check .``
build [the project|docker image] / 构建 / 编译             shell, command from ``build_command``
deploy [to ENV] / release / ship it / 部署到生产环境        shell, command from ``deploy_command``
roll back / 回滚                                          shell, command from ``rollback_command``
ask for approval [from A and B] / approve / 审批           ``approval.request``
back up PATH [to PATH] / archive a folder into tar.gz    ``files.backup``
clean up PATH / 清理 PATH                                  ``files.delete`` (the folder's contents)
fetch / call / check URL [is up] / 访问 URL                 ``http.request``
wait N minutes / 等待5分钟                                 shell ``sleep``
install dependencies / 安装依赖                            shell ``pip install -r requirements.txt``
run `COMMAND` / run make ... / 运行 `COMMAND`              shell ``COMMAND``
markdown report of the last day's git commits             ``git.log`` (per repository with "several")
summarize new IMAP messages with an LLM / 用大模型总结新邮件  ``email.fetch`` + ``llm.complete``
======================================================  ==============================================
"""

from __future__ import annotations

import re
from typing import Any

from yaml2dag.library.drafting.builder import Refusal, StepSpec
from yaml2dag.library.drafting.text import ZH_NUMBER, zh_number
from yaml2dag.library.drafting.verbs import LIT, Context, Intent, command_parameter, kind_is, previous_output, shell, url_parameter

_PROGRAMS = ("make", "npm", "npx", "yarn", "pnpm", "python", "python3", "pip", "bash", "sh", "docker",
             "docker-compose", "kubectl", "helm", "terraform", "ansible-playbook", "cargo", "go", "mvn",
             "gradle", "rsync", "curl", "ruff", "systemctl")
_CODE = r"(?:code|change|changes|commit|commits|repo|repository|source|sources|source\s+code|version|update)"
_REPO_DIR = {"type": "string", "default": ".", "description": "The repository's working copy"}
_TEST_ALIASES = ("tests", "test", "unit tests", "integration tests", "pytest", "testing", "all tests",
                 "test suite", "it all", "测试", "单元测试", "集成测试", "测试用例")


def _pull(m: re.Match, ctx: Context) -> list[StepSpec]:
    params: dict[str, Any] = {"directory": "{{ repo_dir }}"}
    branch = m.groupdict().get("branch")
    if branch:
        params["branch"] = ctx.lit(branch)
    return [StepSpec("pull", "git", "pull", params, {"repo_dir": _REPO_DIR},
                     ("pull", "git pull", "code", "update", "sync", "拉取", "代码", "更新"))]


def _clone(m: re.Match, ctx: Context) -> list[StepSpec]:
    url = ctx.lit(m.groupdict().get("url"))
    directory = ctx.lit(m.groupdict().get("dir"))
    declares: dict[str, Any] = {}
    if not directory:
        declares["repo_dir"] = {"type": "string", "default": "repo", "description": "Where the repository is cloned"}
    params: dict[str, Any] = {"url": "{{ repo_url }}", "directory": directory or "{{ repo_dir }}"}
    declares["repo_url"] = {"type": "string", **({"default": url} if url else {}),
                            "description": "Repository to clone: a URL or a path"}
    if m.groupdict().get("update"):
        params["if_exists"] = "pull"
    return [StepSpec("clone", "git", "clone", params, declares, ("clone", "克隆", "repository", "仓库"))]


def _checkout(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [StepSpec("checkout", "git", "checkout", {"directory": "{{ repo_dir }}", "ref": ctx.lit(m["ref"])},
                     {"repo_dir": _REPO_DIR}, ("checkout", "检出"))]


def _tests(m: re.Match, ctx: Context) -> list[StepSpec]:
    which = (m.groupdict().get("which") or "").strip()
    which = {"单元": "unit", "集成": "integration"}.get(which, which)
    command = "pytest -q" + (f" tests/{which}" if which in ("unit", "integration") else "")
    return [shell("tests", command, _TEST_ALIASES, uses_repo=True)]


def _smoke(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [command_parameter("smoke_test", "smoke_test_command", None,
                              "Command that checks the deployed release, e.g. curl -fsS https://HOST/health",
                              ("smoke test", "smoke", "冒烟测试"), uses_repo=True)]


def _lint(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [shell("lint", "ruff check .", ("lint", "linting", "linter", "style check", "代码检查", "lint检查"),
                  uses_repo=True)]


def _build(m: re.Match, ctx: Context) -> list[StepSpec]:
    docker = bool(re.search(r"image|镜像", m.group(0)))
    return [command_parameter("build", "build_command", "docker build ." if docker else "make build",
                              "Command that builds the " + ("image" if docker else "project"),
                              ("build", "building", "构建", "编译", "打包"), uses_repo=True)]


_ENVIRONMENTS = {"生产": "production", "正式": "production", "线上": "production", "测试": "staging",
                 "预发": "staging", "预发布": "staging", "prod": "production"}


def _deploy(m: re.Match, ctx: Context) -> list[StepSpec]:
    env = (m.groupdict().get("env") or "").strip()
    env = _ENVIRONMENTS.get(env, env)
    default = "./deploy.sh" + (f" {env}" if env else "")
    return [command_parameter("deploy", "deploy_command", default, "Command that deploys" + (f" to {env}" if env else ""),
                              ("deploy", "deployment", "release", "部署", "发布", "上线"), uses_repo=True)]


def _rollback(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [command_parameter("rollback", "rollback_command", "./rollback.sh", "Command that restores the previous release",
                              ("rollback", "回滚"), uses_repo=True)]


def _approval(m: re.Match, ctx: Context) -> list[StepSpec]:
    params: dict[str, Any] = {"message": "Approve the next step of {{ run.workflow }} (run {{ run.id }})?"}
    who = next((m.groupdict()[k] for k in ("who", "who2", "who3") if m.groupdict().get(k)), None)
    if who:
        params["approvers"] = [w for w in re.split(r"\s*(?:,|\band\b|\bor\b|和|及|或)\s*", who) if w]
    return [StepSpec("approval", "approval", "request", params,
                     aliases=("approval", "approved", "sign-off", "signoff", "审批", "批准"))]


def _backup(m: re.Match, ctx: Context) -> list[StepSpec]:
    source, target = ctx.lit(m.groupdict().get("src")), ctx.lit(m.groupdict().get("dst"))
    src_decl: dict[str, Any] = {"type": "string", "description": "What is backed up"}
    if source:
        src_decl["default"] = source
    declares = {"backup_source": src_decl,
                "backup_target": {"type": "string", "default": target or "backups", "description": "Folder the archives go to"}}
    params: dict[str, Any] = {"source": "{{ backup_source }}", "target": "{{ backup_target }}"}
    fmt = (m.groupdict().get("fmt") or "").lower()
    if "zip" in fmt and "tar" in fmt:
        declares["archive_format"] = {"type": "string", "default": "tar.gz", "enum": ["tar.gz", "zip"],
                                      "description": "Archive format"}
        params["format"] = "{{ archive_format }}"
    elif fmt in ("zip", "tar.gz"):
        params["format"] = fmt
    if m.groupdict().get("keep") is not None or m.groupdict().get("retention"):
        keep = zh_number(m["keep"]) if m.groupdict().get("keep") else 7
        declares["keep_last"] = {"type": "integer", "default": keep, "minimum": 1,
                                 "description": "Retention: keep the newest N archives (the new one counts)"}
        params["keep_last"] = "{{ keep_last }}"
    return [StepSpec("backup", "files", "backup", params, declares, ("backup", "backing up", "archive", "备份", "归档"),
                     produces="backup")]


def _cleanup(m: re.Match, ctx: Context) -> list[StepSpec]:
    path = ctx.lit(m["path"])
    contents = not re.match(r"(?:delete|remove|删除)", m.group(0), re.I)
    decl = {"type": "string", "default": path, "description": "Folder whose contents are deleted" if contents
            else "What is deleted"}
    params = {"path": "{{ cleanup_path }}" + ("/*" if contents else ""), "recursive": True, "missing_ok": True}
    return [StepSpec("cleanup", "files", "delete", params, {"cleanup_path": decl}, ("cleanup", "clean up", "清理"))]


def _http(m: re.Match, ctx: Context) -> list[StepSpec]:
    url = url_parameter(ctx, "url", ctx.lit(m["url"]), "The URL requested")
    return [StepSpec("fetch", "http", "request", {"url": url}, produces="text",
                     aliases=("fetch", "request", "call", "ping", "site", "website", "url", "endpoint", "api", "service",
                              "health check", "网站", "接口", "服务", "请求"))]


def _wait(m: re.Match, ctx: Context) -> list[StepSpec]:
    n, unit = zh_number(m["n"]), m["unit"]
    seconds = n * (3600 if unit.startswith(("h", "小")) else 60 if unit.startswith(("m", "分")) else 1)
    return [shell("wait", f"sleep {seconds}", ("wait", "等待"), never_fails=True)]


def _install(m: re.Match, ctx: Context) -> list[StepSpec]:
    return [shell("install", "pip install -r requirements.txt", ("install", "installation", "dependencies", "安装依赖"),
                  uses_repo=True)]


def _command(m: re.Match, ctx: Context) -> list[StepSpec]:
    command = (ctx.lit(m["cmd"]) or "").strip()
    command = ctx.masked.restore(command)
    word = re.sub(r"[^a-z0-9]+", "_", command.split()[0].lower().lstrip("./")).strip("_") or "command"
    return [shell(f"run_{word}", command, (command, word))]


def _commits(m: re.Match, ctx: Context) -> list[StepSpec]:
    when = (m.groupdict().get("when") or "").lower()
    since = "1 week ago" if re.search(r"week|周", when) else "1 day ago"
    params: dict[str, Any] = {"since": since, "no_merges": True}
    if re.search(r"markdown|report|报告|日报|周报", m.group(0), re.I):
        params["format"] = "markdown"
    extra: dict[str, Any] = {}
    declares: dict[str, Any] = {}
    if m.groupdict().get("many"):
        declares["repos"] = {"type": "array", "items": {"type": "string"}, "default": ["."],
                             "description": "Folders of the local git repositories to report on"}
        extra["for_each"] = "{{ repos }}"
        params = {"directory": "{{ item }}", **params}
    else:
        declares["repo_dir"] = _REPO_DIR
        params = {"directory": "{{ repo_dir }}", **params}
    return [StepSpec("commits", "git", "log", params, declares, ("commits", "report", "提交", "报告"),
                     produces="commits", extra=extra)]


_LLM_PROMPT = ("Write a short digest for a busy reader: one bullet per item with what it is about, then what needs "
               "an answer or an action. Do not invent anything.")


def _llm_spec(ctx: Context, context_template: str | None) -> StepSpec:
    declares = {"llm_model": {"type": "string", "default": "gpt-4o-mini",
                              "description": "Model name (the server comes from $YAML2DAG_LLM_URL)"}}
    params: dict[str, Any] = {"model": "{{ llm_model }}", "prompt": _LLM_PROMPT}
    if context_template:
        params["context"] = context_template
    return StepSpec("summarize", "llm", "complete", params, declares, ("summary", "digest", "summarize", "总结", "摘要"),
                    produces="text", extra={"retry": {"max_attempts": 3, "backoff": "exponential", "delay": 10}})


def _mail(m: re.Match, ctx: Context) -> list[StepSpec]:
    params: dict[str, Any] = {"since": "1 day ago", "limit": 50}
    if m.groupdict().get("new"):
        params["unseen_only"] = True
    fetch = StepSpec("fetch_mail", "email", "fetch", params, aliases=("messages", "mail", "emails", "邮件"),
                     produces="messages")
    if not m.groupdict().get("summarize"):
        return [fetch]
    summary = _llm_spec(ctx, "{% for m in fetch_mail.output %}From: {{ m.from }}\nSubject: {{ m.subject }}\n\n"
                             "{{ m.text }}\n\n{% endfor %}")
    summary.whens.append("fetch_mail.count > 0")
    return [fetch, summary]


def _summarize(m: re.Match, ctx: Context) -> list[StepSpec]:
    source = previous_output(ctx)
    if source is None:
        raise Refusal("there is nothing before it to summarize")
    return [_llm_spec(ctx, source)]


_LLM_EN = r"(?:\s+(?:with|using|via|by|through)\s+(?:llm|ai|gpt|chatgpt|openai|ollama|model|language\s+model|large\s+language\s+model))"
_LLM_ZH = r"(?:llm|ai|gpt|chatgpt|大模型|大语言模型|语言模型|模型|人工智能)"
_MAIL_EN = r"(?:message|messages|email|emails|mail|mails|inbox)"
_N = ZH_NUMBER

INTENTS: list[Intent] = [
    Intent("command", rf"(?:run|execute|exec)\s+(?:command\s+|script\s+)?(?P<cmd>{LIT})|(?P<cmd2>{LIT})",
           rf"(?:运行|执行|跑)(?:命令|脚本)?(?P<cmd>{LIT})", lambda m, c: _command(_Pick(m, "cmd", "cmd2"), c),
           ("run `COMMAND`", "运行 `COMMAND`"), accept=kind_is("quoted")),
    Intent("program", r"(?:run|execute)\s+(?P<cmd>(?:" + "|".join(re.escape(p) for p in _PROGRAMS) + r"|\./)\S*(?:\s+.*)?)",
           r"(?:运行|执行)\s*(?P<cmd>(?:" + "|".join(re.escape(p) for p in _PROGRAMS) + r")\b.*)", _command, ("run make build",),
           form="light"),
    Intent("clone", rf"(?:git\s+)?clone(?P<update>\s+or\s+update)?\s+(?:git\s+)?(?:repo|repository)?\s*(?P<url>{LIT})?"
                    rf"(?:\s+(?:in|into|to)\s+(?P<dir>{LIT}|[\w.-]+))?",
           rf"克隆(?P<update>或更新)?(?:git)?(?:仓库|代码库|代码|项目)?(?P<url>{LIT})?(?:到(?P<dir>{LIT}))?", _clone,
           ("clone https://github.com/acme/app.git into app", "clone or update a git repository",
            "克隆仓库 https://github.com/acme/app.git")),
    Intent("pull", rf"(?:git\s+)?pull(?:\s+in)?(?:\s+(?:latest|newest|new|recent|last))?(?:\s+{_CODE})?"
                   r"(?:\s+from\s+(?:(?P<branch>[\w./-]+)\s+branch|branch\s+(?P<branch2>[\w./-]+)|origin|upstream|remote))?"
                   rf"|(?:fetch|get|grab)\s+(?:latest|newest|new|recent)\s+{_CODE}"
                   rf"|(?:update|sync|refresh)\s+(?:local\s+)?(?:git\s+)?(?:{_CODE}|checkout|working\s+copy|clone)",
           r"(?:git)?(?:拉取|拉下|拉|获取|更新|同步|抓取|pull)(?:一下)?(?:(?P<branch>[\w./-]+)分支的?)?(?:最新的?|新的?)?"
           r"(?:代码库|代码|仓库|提交|版本|改动|变更)?(?:的?(?:最新)?(?:代码|提交|改动))?", _pull, ("pull the latest code", "拉取最新代码")),
    Intent("checkout", r"(?:git\s+)?(?:check\s*out|switch\s+to)\s+(?:branch\s+)?(?P<ref>[\w./-]+|⟦\d+⟧)(?:\s+branch)?",
           r"(?:检出|切换到)(?:分支)?(?P<ref>[\w./-]+)(?:分支)?", _checkout, ("check out branch main", "切换到分支 main")),
    Intent("smoke", r"(?:run\s+)?smoke[\s-]?test(?:\s+(?:it|branch|deployment|release|service|app|site))?",
           r"(?:对(?:分支|部署|服务|应用|版本)?)?(?:做|进行|运行|执行|跑)?(?:一下|一次)?冒烟测试", _smoke,
           ("smoke-test the deployment", "做冒烟测试")),
    Intent("tests", r"(?:run|execute|do)?\s*(?:(?:all|every)\s+)?(?:(?P<which>unit|integration|e2e|end-to-end)\s+)?"
                    r"(?:test|test\s+suite|spec|specs)(?:\s+suite)?(?:\s+again)?|(?:run\s+)?pytest"
                    r"|test(?:\s+(?:it|code|everything|project|app|application|change|changes|build|branch|repo))?",
           r"(?:运行|跑|执行|进行|做)?(?:一下|一遍)?(?:所有的?|全部的?)?(?P<which>单元|集成|端到端)?测试(?:用例)?|(?:运行|跑|执行)?pytest",
           _tests, ("run the tests", "run the unit tests", "运行测试")),
    Intent("lint", r"(?:run\s+)?(?:linter|lint(?:ing)?)(?:\s+(?:code|project|source))?|check\s+(?:code\s+)?style",
           r"(?:运行|执行|做|进行)?(?:一下)?(?:代码检查|静态检查|代码风格检查|lint|检查代码风格|代码规范检查)", _lint,
           ("lint the code", "代码检查")),
    Intent("backup", rf"back\s*up\s+(?:[a-z]+\s+){{0,3}}?(?:in\s+|from\s+|of\s+)?(?P<src>{LIT}|folder|directory|files|data)"
                     rf"(?:\s+(?:to|into)\s+(?P<dst>{LIT}))?"
                     rf"|(?:archive|compress|zip)\s+(?:folder|directory|files|data)?\s*(?P<src2>{LIT})?"
                     r"(?:\s+(?:into|to|as)\s+(?:timestamped\s+)?(?P<fmt>tar\.gz(?:/zip)?|zip|tgz|archive)(?:\s+(?:archive|file))?)?"
                     rf"(?:\s+(?:in|into|to)\s+(?P<dst2>{LIT}))?(?P<retention>\s+with\s+retention)?",
           rf"(?:(?:把|将)(?:一个)?(?:文件夹|目录|数据|文件)?(?P<src>{LIT})?)?(?:备份|归档|压缩)(?:一下)?(?:文件夹|目录|数据|文件)?(?P<src2>{LIT})?"
           rf"(?:(?:到|为|成)(?:带时间戳的)?(?P<fmt>tar\.gz(?:/zip)?|zip)?(?:文件|压缩包|归档)?(?P<dst>{LIT})?)?"
           rf"(?:\(?(?:并)?保留(?:最近|最新)?的?(?P<keep>{_N})(?:份|个)(?:备份)?\)?)?",
           lambda m, c: _backup(_Pick(m, "src", "src2", also={"dst": ("dst", "dst2")}), c),
           ("back up /var/data to /mnt/backups", "archive a folder into a timestamped tar.gz with retention",
            "备份 /var/www 到 /mnt/backups"), accept=kind_is("path")),
    Intent("build", r"build(?:\s+(?:it|project|app|application|code|package|release|site|docs|everything|artifact))?"
                    r"|build\s+(?:docker\s+)?image|compile(?:\s+(?:it|code|project))?",
           r"(?:构建|编译|打包)(?:一下)?(?:项目|代码|应用|程序|发布包|镜像|docker镜像)?", _build, ("build the project", "构建项目")),
    Intent("deploy", r"(?:deploy|release|ship|publish)(?:\s+(?:it|app|application|code|service|site|everything|change|changes|build"
                     r"|release|branch|new\s+version))?(?:\s+to\s+(?P<env>[\w-]+)(?:\s+environment)?)?|roll\s+out(?:\s+release)?",
           r"(?:部署|发布|上线)(?:一下)?(?:代码|应用|服务|新版本|版本)?(?:到(?P<env>生产|正式|线上|测试|预发布|预发|staging|production)(?:环境)?)?",
           _deploy, ("deploy to production", "部署到生产环境")),
    Intent("rollback", r"roll\s*back(?:\s+(?:it|deploy|deployment|release))?|rollback", r"回滚(?:部署|发布)?", _rollback,
           ("roll back", "回滚")),
    Intent("approval", r"(?:ask|wait)\s+for\s+(?:manual\s+)?(?:approval|sign-?off)(?:\s+from\s+(?P<who>.+))?"
                       r"|(?:get|require|request)\s+(?:manual\s+)?(?:approval|sign-?off)(?:\s+from\s+(?P<who2>.+))?"
                       r"|approve(?:\s+it|\s+deploy(?:ment)?|\s+release)?|(?:have|let)\s+(?P<who3>.+?)\s+approve(?:\s+it)?",
           r"(?:请求|等待|需要|申请|获得|要求)?(?:由|让)?(?P<who>[a-z0-9_.@-]+(?:(?:和|,|及)[a-z0-9_.@-]+)*)?(?:的)?(?:人工)?(?:审批|批准|审核)",
           _approval, ("ask for approval from alice and bob", "请求 alice 审批")),
    Intent("cleanup", rf"(?:clean\s+up|clean|purge|empty|delete|remove)\s+(?:old\s+)?(?:files\s+in\s+|contents\s+of\s+|folder\s+|directory\s+|cache\s+)?"
                      rf"(?P<path>{LIT})(?:\s+(?:folder|directory))?",
           rf"(?:清理|清空|删除)(?:一下)?(?P<path>{LIT})(?:目录|文件夹)?(?:下的?(?:所有)?(?:文件|内容))?", _cleanup,
           ("clean up /tmp/cache", "清理 /tmp/cache 目录"), accept=kind_is("path")),
    Intent("http", rf"(?:call|hit|ping|fetch|get|request|query|check|monitor|watch|poll|curl|open|visit|verify|download)\s+(?:that\s+)?"
                   rf"(?:api\s+|url\s+|endpoint\s+|website\s+|site\s+|page\s+|health\s+endpoint\s+|service\s+)?(?:at\s+)?(?P<url>{LIT})"
                   r"(?:\s+(?:is|are)\s+(?:up|reachable|available|online|healthy|ok|running|alive))?",
           rf"(?:请求|访问|调用|检查|ping|监控|打开|查看|探测|确认)(?:一下)?(?:网站|接口|api|地址|url|服务|健康检查(?:接口|地址)?)?(?P<url>{LIT})"
           r"(?:是否(?:可用|正常|在线|能访问)|的?(?:可用性|状态|健康状况))?", _http,
           ("check that https://example.com/health is up", "访问 https://example.com/health"), accept=kind_is("url")),
    Intent("wait", r"(?:wait|sleep|pause)\s+(?:for\s+)?(?P<n>\d+)\s*(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?)",
           rf"(?:等待|等|暂停|休眠)(?P<n>{_N})(?P<unit>秒钟?|秒|分钟|小时)", _wait, ("wait 5 minutes", "等待5分钟")),
    Intent("install", r"install\s+(?:python\s+|npm\s+|node\s+)?(?:dependencies|deps|requirements|packages|modules)",
           r"安装(?:一下)?(?:项目)?的?(?:python)?(?:依赖|依赖包|依赖项|包)", _install, ("install dependencies", "安装依赖")),
    Intent("commits", r"(?:(?:generate|create|make|write|build|produce|collect|list|summari[sz]e)\s+)?(?:markdown\s+)?(?:standup\s+|daily\s+|weekly\s+)?"
                      r"(?:(?:report|summary|list|changelog)\s+of\s+)?(?P<when>last\s+day's|today's|yesterday's|recent|last\s+week's|this\s+week's|new|latest)?"
                      r"\s*(?:git\s+)?commits(?:\s+(?:across|from|in|of)\s+(?P<many>several|multiple|many|all|few)\s+(?:repositories|repos))?"
                      r"(?:\s+(?:since|from)\s+(?:yesterday|last\s+week))?",
           r"(?:生成|汇总|整理|统计|列出|收集|制作)?(?P<when>过去一天|昨天|最近一天|今天|本周|过去一周|最近一周|最近)?的?(?P<many>多个|所有|各个)?"
           r"(?:仓库|项目)?的?git提交(?:记录)?的?(?:markdown)?(?:报告|日报|周报|列表|汇总)?", _commits,
           ("markdown report of the last day's git commits across several repositories", "生成过去一天 git 提交的 Markdown 报告")),
    Intent("mail", rf"(?:(?P<summarize>summari[sz]e|digest)\s+|(?:fetch|read|get|collect|download|check)\s+)(?P<new>new|unread|recent|latest|today's)?"
                   rf"\s*(?:imap\s+)?{_MAIL_EN}(?:\s+(?:from|in|over|via)\s+(?:imap|inbox|mailbox))?(?(summarize){_LLM_EN}?|)",
           rf"(?:(?P<summarize>(?:用|使用|通过|让){_LLM_ZH}(?:来)?(?:总结|汇总|概括|摘要))|获取|读取|收取|拉取|检查)"
           r"(?P<new>新的?|未读的?|最新的?)?(?:imap)?(?:邮件|邮箱|消息)", _mail,
           ("summarize new IMAP messages with an LLM", "用大模型总结新的 IMAP 邮件")),
    Intent("summarize", rf"summari[sz]e(?:\s+(?:it|them|result|results|output|data|report|digest|commits))?{_LLM_EN}?",
           rf"(?:(?:用|使用|通过|让){_LLM_ZH}(?:来)?)?(?:总结|概括|汇总)(?:一下)?(?:结果|内容|数据|它|报告)?", _summarize,
           ("summarize it with an LLM", "用大模型总结结果")),
]


class _Pick:
    """A match whose group ``name`` is the first non-empty one of ``names`` (alternative spellings)."""

    def __init__(self, match: re.Match, name: str, *names: str, also: dict | None = None):
        self._match = match
        self._values = {name: next((match.groupdict().get(n) for n in (name, *names) if match.groupdict().get(n)), None)}
        for key, options in (also or {}).items():
            self._values[key] = next((match.groupdict().get(n) for n in options if match.groupdict().get(n)), None)

    def __getitem__(self, key: str) -> Any:
        return self._values[key] if key in self._values else self._match[key]

    def groupdict(self) -> dict:
        return {**self._match.groupdict(), **self._values}

    def group(self, index: int = 0) -> str:
        return self._match.group(index)
