"""Drafting a workflow from a sentence without a model (yaml2dag.library.drafting, issue 12 section 3).

The request set (tests/data/drafting_requests.yaml: the shipped templates' descriptions, the
issue's examples, everyday operations and data requests, half English, half Chinese) is drafted
and checked against the expected tools, conditions and schedules, and with the real validator.
Conditions are evaluated with the real template engine to show they can be true and false;
refusals, phrase reports and the CLI's questions are checked as a user sees them.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
import yaml

from yaml2dag.library.describe import draft_from_description, parse_schedule
from yaml2dag.library.drafting import INTENTS, DescribeError, draft
from yaml2dag.format.expressions import evaluate, truthy
from yaml2dag.format.validation import validate_text

from conftest import REPO, run_cli

REQUESTS = yaml.safe_load((REPO / "tests" / "data" / "drafting_requests.yaml").read_text(encoding="utf-8"))["requests"]


def labels(steps: list[dict]) -> list[str]:
    return [f"{s['id']}: {s['tool']}" + (f".{s['action']}" if s.get("action") else "") for s in steps]


def check_valid(d) -> None:
    report = validate_text(d.yaml_text(), "draft.yaml")
    assert report.valid, "\n".join(p.format() for p in report.problems) + "\n" + d.yaml_text()


# --------------------------------------------------------------------------- the request set


def test_the_request_set_is_big_enough_balanced_and_covers_the_templates():
    assert len(REQUESTS) >= 40
    languages = [r["lang"] for r in REQUESTS]
    assert languages.count("en") == languages.count("zh")
    assert {"template", "issue", "ops", "data"} <= {r["source"] for r in REQUESTS}
    assert len({r["id"] for r in REQUESTS}) == len(REQUESTS)
    texts = {r["text"] for r in REQUESTS}
    for path in sorted((REPO / "yaml2dag" / "workflow_templates").glob("*.yaml")):
        description = yaml.safe_load(path.read_text(encoding="utf-8"))["description"]
        assert description in texts, f"{path.name}: its description is not in the request set"
    for example in ("I want to create a workflow that pulls latest code, runs tests, and deploys if tests pass",
                    "每天早上9点拉取最新代码，运行测试，如果测试通过就部署",
                    "send me an email alert if disk usage is above 90%",
                    "check disk usage and alert if it fails"):
        assert example in texts


@pytest.mark.parametrize("request_", REQUESTS, ids=[r["id"] for r in REQUESTS])
def test_each_request_is_understood_and_drafts_the_expected_workflow(request_):
    d = draft("Drafted", request_["text"])
    assert d.unknown == [], [r.to_json() for r in d.problems]
    assert all(r.status == "understood" for r in d.phrases)
    assert labels(d.data["steps"]) == request_["steps"]
    assert labels(d.data.get("on_failure", [])) == request_.get("on_failure", [])
    whens = {s["id"]: s["when"] for s in d.data["steps"] + d.data.get("on_failure", []) if "when" in s}
    assert whens == request_.get("when", {})
    crons = [t["cron"] for t in d.data.get("triggers", []) if t["type"] == "schedule"]
    assert crons == request_.get("cron", [])
    assert d.data["description"] == request_["text"]
    check_valid(d)


def test_the_issue_examples_in_detail():
    d = draft("Deploy", "I want to create a workflow that pulls latest code, runs tests, and deploys if tests pass")
    assert [r.phrase for r in d.phrases] == ["pulls latest code", "runs tests", "deploys if tests pass"]
    tests = d.data["steps"][1]
    assert tests["on_error"] == "continue" and tests["parameters"]["command"] == "pytest -q"

    d = draft("Sales", "download the CSV from https://example.com/products.csv, compute average price per category, "
                       "save to sqlite")
    read, aggregate, save = d.data["steps"]
    assert read["parameters"] == {"url": "{{ csv_url }}"}
    assert d.data["parameters"]["csv_url"]["default"] == "https://example.com/products.csv"
    assert aggregate["parameters"] == {"input": "{{ download.output }}",
                                       "operations": [{"group_by": {"by": "category", "agg": {"price": "mean"}}}]}
    assert save["parameters"] == {"input": "{{ aggregate.output }}", "path": "{{ output_sqlite }}", "table": "result",
                                  "if_exists": "replace"}
    assert d.data["parameters"]["output_sqlite"]["default"] == "sales.sqlite"

    d = draft("Disk", "send me an email alert if disk usage is above 90%")
    check, email = d.data["steps"]
    assert check["parameters"] == {"disk_percent": "{{ disk_threshold }}"}
    assert d.data["parameters"]["disk_threshold"]["default"] == 90
    assert "status" not in email["when"] and "metrics.disks" in email["when"]  # the value, not the step's failure
    assert email["parameters"]["to"] == "{{ email_to }}" and "default" not in d.data["parameters"]["email_to"]
    assert "added to measure disk usage" in d.phrases[0].note


# --------------------------------------------------------------------------- conditions that can fire


def scope_for_check(disk: float, memory: float, cpu: float, load: float, thresholds: dict) -> dict:
    """The names a `when` sees after a system.check step `check_system` (yaml2dag/tools/system.py)."""
    metrics = {"cpu_percent": cpu, "memory": {"percent": memory}, "load_avg": [load, load, load],
               "disks": [{"mount": "/", "percent": disk}, {"mount": "/data", "percent": disk / 2}], "hostname": "h"}
    alerts = [{"metric": k, "message": k} for k, v in (("cpu_percent", cpu), ("memory_percent", memory),
                                                        ("disk_percent", disk), ("load_1m", load))
              if k in thresholds and v > thresholds[k]]
    return {"check_system": {"metrics": metrics, "alerts": alerts, "count": len(alerts), "healthy": not alerts,
                             "status": "succeeded", "succeeded": True}}


@pytest.mark.parametrize("text, metric", [
    ("send me an email alert if disk usage is above 90%", "disk"),
    ("check memory every 10 minutes, alert me on Discord when memory usage exceeds 85%", "memory"),
    ("磁盘使用率超过90%时给我发邮件告警", "disk"),
    ("每5分钟检查内存，内存使用率高于80%时在 Slack 上报警", "memory"),
    ("check the cpu and alert the team when cpu usage is over 75 percent", "cpu"),
])
def test_a_value_condition_is_true_exactly_when_the_value_is_over_the_threshold(text, metric):
    """Property: for random values and thresholds, the drafted `when` (rendered by the real template
    engine) is true iff the measured value is over the threshold parameter."""
    d = draft("X", text)
    assert d.unknown == [] and d.data["steps"][0]["tool"] == "system"
    (when,) = [s["when"] for s in d.data["steps"] if "when" in s]
    param = re.search(rf"{metric}_threshold\w*", when).group(0)
    rng = random.Random(12)
    for _ in range(200):
        values = {m: round(rng.uniform(0, 100), 1) for m in ("disk", "memory", "cpu")}
        threshold = rng.choice([0, 50, 80, 90, 100, round(rng.uniform(0, 100), 1)])
        scope = scope_for_check(values["disk"], values["memory"], values["cpu"], 1.0, {f"{metric}_percent": threshold})
        scope[param] = threshold
        assert truthy(evaluate(when, scope)) == (values[metric] > threshold), (when, values, threshold)


def test_alert_if_a_check_fails_tests_its_alerts_not_the_step_status():
    """The old grammar drafted `when: check_system.status == 'failed'` for "check disk usage and alert if
    it fails": system.check succeeds when the disk is full, so that alert could never fire."""
    for text in ("check disk usage and alert if it fails", "检查磁盘使用情况，如果失败就告警"):
        d = draft("X", text)
        alert = d.data["steps"][1]
        assert alert["when"] == "{{ check_system.count > 0 }}"
        full = scope_for_check(97, 10, 10, 0.1, {"disk_percent": 90})
        fine = scope_for_check(20, 10, 10, 0.1, {"disk_percent": 90})
        assert truthy(evaluate(alert["when"], full)) and not truthy(evaluate(alert["when"], fine))
        assert "succeeds even when a threshold is exceeded" in d.phrases[1].note


@pytest.mark.parametrize("text, reason", [
    ("check disk usage and alert if disk usage is above 100%", "can never be above 100%"),
    ("检查磁盘，磁盘使用率超过100%时告警", "can never be above 100%"),
    ("check memory, email ops@example.com when memory usage is below 0%", "can never be below 0%"),
    ("wait 5 minutes, alert if the wait fails", "never fails"),
    ("run lint, then deploy if tests pass", "no step called 'tests' before it"),
    ("check the disk, then alert me when the load is above -1", None),
])
def test_a_step_that_could_never_run_is_refused_with_the_reason(text, reason):
    d = draft("X", text)
    if reason is None:  # "-1" is not a load threshold the grammar reads: not understood, not guessed
        assert d.problems and d.problems[0].status == "unknown"
        return
    refused = [r for r in d.phrases if r.status == "refused"]
    assert len(refused) == 1 and reason in refused[0].reason, [r.to_json() for r in d.phrases]
    assert refused[0].phrase in d.data["description"]
    assert any(reason in u for u in d.unknown)
    assert all(reason not in (s.get("name") or "") for s in d.data["steps"])  # the step is left out
    check_valid(d)


def test_a_step_whose_failure_is_tested_continues_so_the_condition_can_be_reached():
    d = draft("X", "run tests and notify the team if the tests fail")
    tests, notify = d.data["steps"]
    assert tests["on_error"] == "continue" and notify["when"] == "{{ tests.status == 'failed' }}"
    assert any("on_error: continue" in n for n in d.notes)


# --------------------------------------------------------------------------- what is not understood


def test_each_phrase_not_understood_is_reported_with_the_closest_supported_phrasing():
    d = draft("X", "run tests, fly to the moon, 去公园跑步, email the report to ops@example.com")
    statuses = [(r.phrase, r.status) for r in d.phrases]
    assert statuses == [("run tests", "understood"), ("fly to the moon", "unknown"), ("去公园跑步", "unknown"),
                        ("email the report to ops@example.com", "understood")]
    moon, park = d.problems
    assert moon.closest and not re.search(r"[\u4e00-\u9fff]", moon.closest)
    assert park.closest and re.search(r"[\u4e00-\u9fff]", park.closest)  # in the phrase's language
    assert d.unknown == ["fly to the moon", "去公园跑步"]
    data = d.to_json()
    assert [p["status"] for p in data["phrases"]] == ["understood", "unknown", "unknown", "understood"]
    assert data["phrases"][1]["closest"] == moon.closest


def test_a_near_miss_is_pointed_to_its_supported_phrasing():
    d = draft("X", "check the disk, alert if disk usage goes past ninety")
    assert d.problems[0].closest in ("send me an email alert if disk usage is above 90%",
                                     "only when the disk is above 90%, email ops@example.com")
    d = draft("X", "每天跑一下测试呗")
    assert d.phrases[0].status == "understood" or d.problems[0].closest


def test_nothing_understood_is_an_error_naming_each_phrase():
    with pytest.raises(DescribeError) as err:
        draft("X", "make everything better every day, 让一切更好")
    assert "make everything better" in str(err.value) and "让一切更好" in str(err.value)


# --------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("phrase, cron, tz", [
    ("每天早上9点", "0 9 * * *", None),
    ("每天", "0 0 * * *", None),
    ("每周一", "0 0 * * 1", None),
    ("每小时", "0 * * * *", None),
    ("每个工作日上午9点", "0 9 * * 1-5", None),
    ("周一到周五下午6点", "0 18 * * 1-5", None),
    ("每周一、三、五晚上8点半", "30 20 * * 1,3,5", None),
    ("每周末上午10点", "0 10 * * 0,6", None),
    ("每月15号下午3点", "0 15 15 * *", None),
    ("每个月", "0 0 1 * *", None),
    ("每隔2小时", "0 */2 * * *", None),
    ("每5分钟", "*/5 * * * *", None),
    ("每天凌晨2点", "0 2 * * *", None),
    ("每天晚上12点", "0 0 * * *", None),
    ("每天中午12点", "0 12 * * *", None),
    ("早上九点", "0 9 * * *", None),
    ("每天早上9点和下午5点", "0 9,17 * * *", None),
    ("每天北京时间早上9点", "0 9 * * *", "Asia/Shanghai"),
    ("每周", "0 0 * * 0", None),
    ("every evening at 8", "0 20 * * *", None),
    ("every night at 2", "0 2 * * *", None),
    ("every weekday morning at 9am", "0 9 * * 1-5", None),
    ("every 3 days", "0 0 */3 * *", None),
    ("every weekday at 9am", "0 9 * * 1-5", None),
])
def test_schedule_phrases_in_both_languages(phrase, cron, tz):
    assert parse_schedule(phrase) == (cron, tz)


@pytest.mark.parametrize("phrase, message", [
    ("每天早上", "请说明具体时间"),
    ("每90分钟", "间隔"),
    ("每天早上25点", "不是一天中的时间"),
    ("明天", "not a schedule phrase"),
])
def test_chinese_schedule_phrases_that_are_refused_not_guessed(phrase, message):
    with pytest.raises(DescribeError) as err:
        parse_schedule(phrase)
    assert message in str(err.value)


# --------------------------------------------------------------------------- verbs, properties


VERB_FORMS = [
    ("pull latest code", "pulls latest code", "pulled the latest code", "pulling latest code", "git.pull"),
    ("run tests", "runs the tests", "ran the tests", "running tests", "shell"),
    ("deploy to staging", "deploys to staging", "deployed to staging", "deploying to staging", "shell"),
    ("check disk usage", "checks disk usage", "checked the disk usage", "checking disk usage", "system.check"),
    ("back up /srv to /mnt", "backs up /srv to /mnt", "backed up /srv to /mnt", "backing up /srv to /mnt", "files.backup"),
    ("notify the team", "notifies the team", "notified the team", "notifying the team", "notify.log"),
    ("email ops@example.com", "emails ops@example.com", "emailed ops@example.com", "emailing ops@example.com", "notify.email"),
    ("build the project", "builds the project", "built the project", "building the project", "shell"),
]


@pytest.mark.parametrize("forms", VERB_FORMS, ids=[f[0] for f in VERB_FORMS])
def test_inflected_and_imperative_verbs_draft_the_same_step(forms):
    *phrases, tool = forms
    drafted = []
    for phrase in phrases:
        d = draft("X", phrase)
        assert d.unknown == [], phrase
        drafted.append([(s["tool"] + (f".{s['action']}" if s.get("action") else ""), s["parameters"]) for s in d.data["steps"]])
    assert all(x == drafted[0] for x in drafted) and drafted[0][0][0] == tool


CLAUSES_EN = ["pull the latest code", "run the unit tests", "lint the code", "build the project", "deploy to staging",
              "back up /var/data to /mnt/backups", "check disk usage", "wait 2 minutes", "install dependencies",
              "run `echo hello`", "ask for approval from alice and bob", "notify the team on Slack",
              "email ops@example.com", "call https://example.com/api/ping", "clean up /tmp/cache"]
CLAUSES_ZH = ["拉取最新代码", "运行单元测试", "代码检查", "构建项目", "部署到测试环境", "备份 /var/data 到 /mnt/backups",
              "检查磁盘使用率", "等待2分钟", "安装依赖", "运行 `echo hello`", "请求 alice 审批", "在钉钉上通知我",
              "发邮件给 ops@example.com", "访问 https://example.com/api/ping", "清理 /tmp/cache 目录"]
SEPARATORS = {"en": [", ", ", then ", " and ", "; ", ", and then ", ". Then "], "zh": ["，", "，然后", "，再", "；", "并", "、"]}
SCHEDULES = {"en": ["", "every weekday at 9am", "every 15 minutes", "every monday at 8:30"],
             "zh": ["", "每天早上9点", "每5分钟", "每周一早上8点半"]}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_random_sequences_of_supported_clauses_draft_one_step_each_in_order(language):
    """Property: any sequence of supported clauses, joined by any supported separator, with a
    schedule in front or at the end, drafts one step per clause, in order, and validates."""
    pool = CLAUSES_EN if language == "en" else CLAUSES_ZH
    singles = {c: labels(draft("X", c).data["steps"]) for c in pool}
    rng = random.Random(2024 if language == "en" else 2025)
    for _ in range(60):
        picked = rng.sample(pool, rng.randint(2, 5))
        text = picked[0]
        for clause in picked[1:]:
            text += rng.choice(SEPARATORS[language]) + clause
        schedule = rng.choice(SCHEDULES[language])
        if schedule:
            text = f"{schedule} {text}" if rng.random() < 0.5 else f"{text}{', ' if language == 'en' else '，'}{schedule}"
        d = draft("X", text)
        assert d.unknown == [], (text, d.unknown)
        tools = [label.split(": ")[1] for label in labels(d.data["steps"])]
        assert tools == [singles[c][0].split(": ")[1] for c in picked], text
        assert bool(d.data.get("triggers")) == bool(schedule)
        check_valid(d)


def test_every_example_of_the_lexicon_is_understood():
    for intent in INTENTS:
        for example in intent.examples:
            chinese = bool(re.search(r"[\u4e00-\u9fff]", example))
            prefix = ("读取 data.csv，" if chinese else "read data.csv, ") if intent.name in (
                "filter", "aggregate", "sort", "top", "profile", "write") else ""
            prefix = ("检查磁盘，" if chinese else "check disk usage, ") if intent.name == "recheck" else prefix
            prefix = ("运行测试，" if chinese else "run tests, ") if intent.name in ("message", "summarize") else prefix
            text = prefix + example.replace("COMMAND", "echo hi")
            d = draft("X", text)
            assert d.unknown == [], (intent.name, text, d.unknown)
            check_valid(d)


@pytest.mark.parametrize("text, expression", [
    ("read data.csv, keep only rows where status is 'paid'", "status == 'paid'"),
    ("read data.csv, filter rows where quantity is greater than 10 and price < 5", "quantity > 10 and price < 5"),
    ("read data.csv, filter rows where Region is not 'EU'", "Region != 'EU'"),
    ("读取 data.csv，筛选数量大于10的行", "数量 > 10"),
    ("读取 data.csv，只保留状态为paid的行", "状态 == 'paid'"),
])
def test_filters_become_expressions_the_data_tool_accepts(text, expression):
    from yaml2dag.tools.data.expressions import check_expression

    d = draft("X", text)
    (operation,) = d.data["steps"][1]["parameters"]["operations"]
    assert operation == {"filter": expression}
    check_expression(expression)  # raises for what the data tool would refuse


def test_a_table_step_without_a_table_before_it_is_refused():
    d = draft("X", "run tests, compute average price per category")
    assert d.phrases[1].status == "refused" and "no table before it" in d.phrases[1].reason


@pytest.mark.parametrize("text, env, expected", [
    ("run tests and notify the team on Slack", "SLACK_WEBHOOK_URL", {"text"}),
    ("run tests and notify me on Discord", "DISCORD_WEBHOOK_URL", {"payload"}),
    ("运行测试，然后在钉钉上通知我", "DINGTALK_WEBHOOK_URL", {"payload"}),
    ("运行测试，然后发到飞书", "FEISHU_WEBHOOK_URL", {"payload"}),
    ("run tests and post to the webhook", "WEBHOOK_URL", {"text"}),
])
def test_chat_alerts_use_a_secret_webhook_url_and_the_service_s_message_shape(text, env, expected):
    d = draft("X", text)
    step = d.data["steps"][1]
    assert step["tool"] == "notify" and step["action"] == "webhook"
    name = step["parameters"]["url"].strip("{} ")
    assert name.upper() == env and d.data["parameters"][name]["type"] == "secret"
    assert set(step["parameters"]) - {"url"} == expected
    if "dingtalk" in name:
        assert step["parameters"]["payload"]["msgtype"] == "text"
    if "feishu" in name:
        assert step["parameters"]["payload"]["msg_type"] == "text"


# --------------------------------------------------------------------------- entry points and the CLI


def test_describe_entry_points_use_the_new_grammar():
    text = "每天早上9点拉取最新代码，运行测试，如果测试通过就部署"
    assert draft_from_description("X", text).data == draft("X", text).data
    assert parse_schedule("每周一") == ("0 0 * * 1", None)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with an empty `definitions` folder, as a user has it: the CLI runs there
    with the default (relative) definitions folder and no YAML2DAG_* settings."""
    for key in [k for k in os.environ if k.startswith("YAML2DAG_")]:
        monkeypatch.delenv(key)
    (tmp_path / "definitions").mkdir()
    return tmp_path


def run_user_cli(project: Path, *args: str, input: str | None = None):
    return run_cli(*args, cwd=project, input=input)


def test_create_describe_asks_to_rephrase_what_it_did_not_understand(project):
    done = run_user_cli(project, "create", "Moon", "-i", "--describe", "run tests then fly to the moon",
                        input="run `echo moon`\ny\n")
    assert done.code == 0, done.stdout + done.stderr
    assert "not understood: fly to the moon" in done.stdout
    assert "closest supported phrasing: run `COMMAND`" in done.stdout
    saved = yaml.safe_load((project / "definitions" / "moon.yaml").read_text())
    assert [s["parameters"].get("command") for s in saved["steps"]] == ["pytest -q", "echo moon"]
    assert saved["description"] == "run tests then run `echo moon`"


def test_create_describe_in_chinese_leaves_out_what_the_user_skips(project):
    done = run_user_cli(project, "create", "Park", "-i", "--describe", "运行测试，去公园跑步", input="\ny\n")
    assert done.code == 0, done.stdout + done.stderr
    assert "not understood: 去公园跑步" in done.stdout and "1 phrase(s) were left out" in done.stdout
    saved = yaml.safe_load((project / "definitions" / "park.yaml").read_text())
    assert [s["id"] for s in saved["steps"]] == ["tests"]


def test_create_describe_without_questions_reports_each_phrase_and_refuses_with_yes(project):
    done = run_user_cli(project, "create", "Alert", "--describe",
                        "check disk usage, alert if disk usage is above 100%, fly to the moon", "--yes",
                        "--format", "json")
    assert done.code == 1
    data = json.loads(done.stdout)
    phrases = {p["phrase"]: p for p in data["draft"]["phrases"]}
    assert phrases["alert if disk usage is above 100%"]["status"] == "refused"
    assert "can never be above 100%" in phrases["alert if disk usage is above 100%"]["reason"]
    assert phrases["fly to the moon"]["status"] == "unknown" and phrases["fly to the moon"]["closest"]
    assert not (project / "definitions" / "alert.yaml").exists()


def test_the_interactive_builder_reads_chinese_schedule_phrases(project):
    answers = ["", "", "", "", "build", "", "shell", "make build", "abort", "", "", "每个工作日上午9点", "", "y"]
    done = run_user_cli(project, "create", "Nightly Build", "--interactive", input="\n".join(answers) + "\n")
    assert done.code == 0, done.stdout + done.stderr
    saved = yaml.safe_load((project / "definitions" / "nightly_build.yaml").read_text())
    assert saved["triggers"][1]["cron"] == "0 9 * * 1-5"


@pytest.mark.parametrize("text, steps, when", [
    # found on fresh requests written after the grammar (docs/benchmarks.md): spaces and an
    # upper-case CPU inside a Chinese condition, and the verb 告诉
    ("每15分钟检查内存和 CPU，CPU 使用率超过95%时在 Teams 上提醒我", ["check_system: system.check", "notify: notify.webhook"],
     "{{ check_system.metrics.cpu_percent > cpu_threshold }}"),
    ("检查磁盘 ，磁盘 使用率 超过 90% 时 告警", ["check_system: system.check", "notify: notify.log"],
     "{{ (check_system.metrics.disks | map(attribute='percent') | max) > disk_threshold }}"),
    ("每周日凌晨4点把 /srv/uploads 归档到 /backups，完成后在 Slack 上告诉我", ["backup: files.backup", "notify: notify.webhook"], None),
    ("Watch memory and CPU every 15 minutes; warn me on Teams when CPU usage goes over 95%",
     ["check_system: system.check", "notify: notify.webhook"], "{{ check_system.metrics.cpu_percent > cpu_threshold }}"),
])
def test_fresh_requests(text, steps, when):
    d = draft("X", text)
    assert d.unknown == [] and labels(d.data["steps"]) == steps
    assert d.data["steps"][-1].get("when") == when
    if when and "cpu" in when:  # the check's own threshold is the one the sentence says
        assert d.data["parameters"]["cpu_threshold"]["default"] == 95
    check_valid(d)


def test_a_filter_value_that_would_be_rendered_as_a_template_is_refused():
    d = draft("X", "read data.csv, keep only rows where owner is '{{ secrets.TOKEN }}'")
    assert d.phrases[1].status == "refused" and "rendered as a template" in d.phrases[1].reason
    assert [s["id"] for s in d.data["steps"]] == ["read"]


@pytest.mark.parametrize("text, when", [
    ("read data.csv, filter rows where price > 100, email the result to a@b.c if there are rows", "{{ filter.rows > 0 }}"),
    ("read data.csv, email the result to a@b.c if the result is empty", "{{ read.rows == 0 }}"),
    ("读取 data.csv，筛选价格大于100的行，有数据时发邮件给 a@b.c", "{{ filter.rows > 0 }}"),
    ("run tests, if tests pass deploy, otherwise notify the team", "{{ not (tests.succeeded) }}"),
    ("运行测试，如果测试通过就部署，否则在钉钉上通知我", "{{ not (tests.succeeded) }}"),
])
def test_row_and_otherwise_conditions(text, when):
    d = draft("X", text)
    assert d.unknown == [] and d.data["steps"][-1]["when"] == when
    check_valid(d)
