"""`yzmon alerts test`: send a test message through the configured group robot and report the robot's own answer.

Grafana's wecom and dingding notifiers post to the robot and count any HTTP 2xx as delivered (grafana/alerting
receivers/wecom/v1/wecom.go and receivers/dingding/v1/dingding.go, ``Notify``): they never read the body, where the
robots put their verdict. Both answer HTTP 200 with ``{"errcode": …, "errmsg": …}``, and errcode ≠ 0 means the
message was dropped (a keyword missing from it, the sender's IP not on the allow-list, a signature required, a wrong
key). This command posts the same body Grafana would (wecom: ``msgtype`` markdown with ``# title`` then the message;
dingding: ``msgtype`` actionCard with title, text and one button) and shows errcode and errmsg; it exits 1 unless
errcode is 0. Registered in yzmon/cli.py with ``app.add_typer(alerts_app, name="alerts")``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import typer
from rich.console import Console

__all__ = ["TITLE_KEYWORD", "alerts_app", "robot_body", "send_test"]

TITLE_KEYWORD = "渝中商圈"  # every provisioned title starts with it: set it as the robot's 关键词
alerts_app = typer.Typer(help="Alert delivery: check the group robot Grafana sends to.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)

HINTS = {
    # 钉钉 自定义机器人: errcode 310000 carries the reason in errmsg (keywords, sign, ip)
    ("dingding", 310000): "检查机器人安全设置:关键词须包含“渝中商圈”;IP 白名单须包含 Grafana 服务器的出口 IP;"
    "不要启用“加签”(Grafana 的钉钉通知不签名,加签的机器人会拒收每一条)。",
    ("dingding", 300001): "access_token 无效:从群设置 → 机器人 重新复制 Webhook 地址。",
    ("dingding", 130101): "发送太快:钉钉机器人每分钟最多 20 条,稍后再试。",
    ("wecom", 93000): "Webhook 地址的 key 无效或机器人已被移除:从群聊 → 群机器人 重新复制 Webhook 地址。",
    ("wecom", 45009): "发送太快:企业微信群机器人每分钟最多 20 条,稍后再试。",
    ("wecom", 40058): "消息内容不合规(过长或格式错误)。",
}


def robot_body(channel: str, title: str, message: str, link: str) -> dict[str, Any]:
    """The JSON Grafana's notifier posts for ``channel`` with the templated ``title`` and ``message``."""
    if channel == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"# {title}\n{message}\n"}}
    if channel == "dingding":
        return {
            "msgtype": "actionCard",
            "actionCard": {"text": message, "title": title, "singleTitle": "More", "singleURL": link},
        }
    raise ValueError(f"unknown channel {channel!r}: use wecom (企业微信) or dingding (钉钉)")


def send_test(channel: str, url: str, timeout: float = 10.0) -> tuple[int | None, str, int]:
    """Post a test message; (errcode, errmsg, HTTP status). errcode is None when the answer is not the robot's."""
    now = datetime.now().astimezone()
    title = f"{TITLE_KEYWORD} 告警通道测试"
    message = (
        f"这是 `yzmon alerts test` 于 {now:%Y-%m-%d %H:%M} 发出的测试消息。"
        "收到即说明机器人、关键词与 IP 白名单设置正确,Grafana 的告警可以送达本群。"
    )
    body = robot_body(channel, title, message, "https://grafana.com/docs/grafana/latest/alerting/")
    response = httpx.post(url, json=body, timeout=timeout, headers={"User-Agent": "Grafana"})
    try:
        answer = response.json()
    except ValueError:
        return None, response.text[:200], response.status_code
    if not isinstance(answer, dict) or "errcode" not in answer:
        return None, str(answer)[:200], response.status_code
    return int(answer["errcode"]), str(answer.get("errmsg", "")), response.status_code


@alerts_app.callback()
def _alerts() -> None:
    """Alert delivery: check the group robot Grafana sends to."""


@alerts_app.command("test")
def test_command(
    channel: str | None = typer.Option(
        None, "--channel", help="wecom or dingding (default: YZMON_ALERT_CHANNEL, as Grafana's contact point)."
    ),
    url: str | None = typer.Option(
        None, "--url", help="The robot's webhook URL (default: YZMON_ALERT_WEBHOOK_URL, as Grafana's contact point)."
    ),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the robot."),
) -> None:
    """Send a test message through the group robot and show its answer (errcode, errmsg); exit 1 unless errcode 0."""
    from yzcore.settings import get_settings

    settings = get_settings()
    channel = channel or settings.alert_channel
    url = url or (settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None)
    if channel not in ("wecom", "dingding"):
        _fail(f"no robot type: set YZMON_ALERT_CHANNEL (wecom or dingding) or pass --channel, got {channel!r}")
    if not url:
        _fail("no webhook URL: set YZMON_ALERT_WEBHOOK_URL (the robot's webhook) or pass --url")
    if channel == "dingding" and "sign=" in url:
        _err.print(
            "[yellow]note:[/] the URL carries a signature; Grafana sends it unchanged: it expires within the hour"
        )
    try:
        errcode, errmsg, status = send_test(channel, url, timeout)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the robot at {httpx.URL(url).host}: {exc}. Is the URL right and the network open?")
        return
    if errcode is None:
        _fail(f"the robot answered HTTP {status} without errcode: {errmsg!r}. Is this a {channel} robot webhook URL?")
        return
    verdict = "[green]delivered[/]" if errcode == 0 else "[bold red]refused[/]"
    _out.print(f"{channel} robot answered HTTP {status}: errcode {errcode}, errmsg {errmsg!r} — {verdict}")
    if errcode != 0:
        hint = HINTS.get((channel, errcode))
        if hint:
            _out.print(hint)
        raise typer.Exit(1)


def _fail(message: str) -> None:
    _err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)
