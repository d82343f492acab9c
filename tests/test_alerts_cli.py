"""`yzmon alerts test` against local fake robots that answer as 企业微信 and 钉钉 group robots do: HTTP 200 always,
the verdict in errcode / errmsg (a 钉钉 robot with a keyword refuses a message without it: 310000). And the
provisioned contact point: Chinese templates, a card message type, the keyword in every title."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from yzmon.alerts_cli import TITLE_KEYWORD, alerts_app, robot_body
from yzmon.cli import app

ALERTING = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "provisioning" / "alerting"


class Robot:
    def __init__(self, keyword: str) -> None:
        self.keyword = keyword
        self.received: list[dict[str, Any]] = []


def _handler(robot: Robot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            robot.received.append(body)
            text = json.dumps(body, ensure_ascii=False)
            if robot.keyword in text:
                answer = {"errcode": 0, "errmsg": "ok"}
            else:  # 钉钉's answer to a message without the robot's keyword
                answer = {
                    "errcode": 310000,
                    "errmsg": "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词",
                }
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def robot() -> Iterator[tuple[str, Robot]]:
    state = Robot(TITLE_KEYWORD)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/robot/send?access_token=abc", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("channel", ["wecom", "dingding"])
def test_a_delivered_test_message_reports_errcode_0(robot, channel):
    url, state = robot
    result = CliRunner().invoke(alerts_app, ["test", "--channel", channel, "--url", url])
    assert result.exit_code == 0, result.output
    assert "errcode 0" in result.output and "'ok'" in result.output and "delivered" in result.output
    (body,) = state.received
    if channel == "wecom":
        assert body["msgtype"] == "markdown" and body["markdown"]["content"].startswith(f"# {TITLE_KEYWORD}")
    else:
        assert body["msgtype"] == "actionCard" and body["actionCard"]["title"].startswith(TITLE_KEYWORD)
        assert set(body["actionCard"]) == {"text", "title", "singleTitle", "singleURL"}


def test_a_refused_message_exits_1_with_the_robots_own_answer(robot, monkeypatch):
    url, state = robot
    state.keyword = "另一个关键词"
    monkeypatch.setenv("YZMON_ALERT_CHANNEL", "dingding")
    monkeypatch.setenv("YZMON_ALERT_WEBHOOK_URL", url)
    from yzcore.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["alerts", "test"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "errcode 310000" in result.output and "关键词不匹配" in result.output and "refused" in result.output
    assert "加签" in result.output and "IP 白名单" in result.output  # what to check next


def test_no_robot_configured_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("YZMON_ALERT_CHANNEL", raising=False)
    monkeypatch.delenv("YZMON_ALERT_WEBHOOK_URL", raising=False)
    result = CliRunner().invoke(alerts_app, ["test", "--channel", "wecom"])
    assert result.exit_code == 1 and "YZMON_ALERT_WEBHOOK_URL" in result.output


def test_an_answer_that_is_not_a_robots_is_not_taken_for_delivery(free_port):
    result = CliRunner().invoke(alerts_app, ["test", "--channel", "wecom", "--url", f"http://127.0.0.1:{free_port()}/"])
    assert result.exit_code == 1 and "cannot reach the robot" in result.output


def test_the_body_is_the_one_grafanas_notifiers_post():
    """grafana/alerting receivers/wecom/v1/wecom.go Notify: markdown content "# title\\nmessage\\n";
    receivers/dingding/v1/dingding.go buildBody: actionCard {text, title, singleTitle "More", singleURL}."""
    assert robot_body("wecom", "T", "M", "u") == {"msgtype": "markdown", "markdown": {"content": "# T\nM\n"}}
    assert robot_body("dingding", "T", "M", "u") == {
        "msgtype": "actionCard",
        "actionCard": {"text": "M", "title": "T", "singleTitle": "More", "singleURL": "u"},
    }
    with pytest.raises(ValueError, match="wecom"):
        robot_body("slack", "T", "M", "u")


def test_the_contact_point_uses_chinese_templates_and_a_card():
    points = yaml.safe_load((ALERTING / "contact-points.yaml").read_text(encoding="utf-8"))
    (receiver,) = points["contactPoints"][0]["receivers"]
    settings = receiver["settings"]
    assert settings["msgType"] == "actionCard" and settings["msgtype"] == "markdown"  # dingding / wecom keys
    templates = yaml.safe_load((ALERTING / "templates.yaml").read_text(encoding="utf-8"))["templates"]
    text = "".join(t["template"] for t in templates)
    defined = set(re.findall(r'define "([\w.]+)"', text))
    used = set(re.findall(r'template "([\w.]+)"', settings["title"] + settings["message"] + text))
    assert used <= defined and {"yzmon.title", "yzmon.message"} <= used
    title = re.search(r'define "yzmon.title" }}(.*?){{', text).group(1)
    assert title == TITLE_KEYWORD, "every title starts with the robot's keyword"
    assert "$" not in text, "provisioning would expand it as an environment variable"
    assert re.search(r"[\u4e00-\u9fff]", text) and "已恢复" in text
