#!/usr/bin/env python3
"""Smoke test of smtp_server.py and http_sms.py: `python3 tests/peers/selftest.py`."""
import json
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.message import EmailMessage
from urllib.error import HTTPError

HERE = os.path.dirname(os.path.abspath(__file__))
TMP = tempfile.mkdtemp(prefix="peers-")


def start(script, *args):
    log = os.path.join(TMP, f"{script}-{time.monotonic_ns()}.jsonl")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0", "--log", log, *args],
                            stdout=subprocess.PIPE, text=True)
    ready = proc.stdout.readline().split()
    assert ready[0] == "READY", ready
    return proc, int(ready[1]), log


def stop(proc):
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    return time.monotonic() - t


def lines(log, event=None):
    with open(log, encoding="utf-8") as f:
        return [x for x in map(json.loads, f) if event is None or x.get("event") == event]


def message(to="owner@example.com"):
    m = EmailMessage()
    m["From"] = "回访中心 <noreply@huifang.test>"
    m["To"] = to
    m["Subject"] = "您好，退订回复TD"
    m["Message-ID"] = "<abc.123@huifang.test>"
    m["List-Unsubscribe"] = "<https://huifang.test/u/abc>, <mailto:unsub@huifang.test>"
    m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    m.set_content("正文：您好")
    m.add_alternative("<p>正文：<b>您好</b></p>", subtype="html")
    return m


def test_smtp():
    certdir = os.path.join(TMP, "cert")
    subprocess.run([os.path.join(HERE, "make_cert.sh"), certdir], check=True, stdout=subprocess.DEVNULL)
    cert, key = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
    insecure = ssl._create_unverified_context()

    # STARTTLS + AUTH, rejected recipient, temp failure of the first message
    proc, port, log = start("smtp_server.py", "--user", "u1", "--password", "p1", "--tls-cert", cert, "--tls-key", key,
                            "--reject", "bad@", "--tempfail-first", "1")
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        s.starttls(context=insecure)
        s.ehlo()
        try:
            s.login("u1", "wrong")
            raise AssertionError("wrong password accepted")
        except smtplib.SMTPAuthenticationError:
            pass
        s.login("u1", "p1")
        try:
            s.send_message(message())
            raise AssertionError("no 451")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 451
        refused = s.send_message(message("owner@example.com, bad@example.com"))
        assert list(refused) == ["bad@example.com"] and refused["bad@example.com"][0] == 550
    # plain connection + AUTH LOGIN (auth_require_tls is off)
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        s.user, s.password = "u1", "p1"
        s.auth("LOGIN", s.auth_login)
        s.send_message(message("second@example.com"))
    # without AUTH: refused
    with smtplib.SMTP("127.0.0.1", port) as s:
        try:
            s.sendmail("a@b.c", ["x@example.com"], "Subject: x\r\n\r\nx")
            raise AssertionError("unauthenticated mail accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 530
    stop(proc)
    msgs = lines(log, "message")
    assert len(msgs) == 2 and len(lines(log, "tempfail")) == 1 and len(lines(log, "reject_rcpt")) == 1
    m = msgs[0]
    assert m["subject"] == "您好，退订回复TD" and m["rcpt_tos"] == ["owner@example.com"] and m["tls"] is True
    assert m["auth_user"] == "u1" and m["message_id"] == "<abc.123@huifang.test>"
    assert m["text"].strip() == "正文：您好" and m["html"].strip() == "<p>正文：<b>您好</b></p>"
    assert m["list_unsubscribe"].startswith("<https://huifang.test/u/abc>")
    assert m["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert m["from"] == "回访中心 <noreply@huifang.test>"
    assert msgs[1]["tls"] is False and msgs[1]["rcpt_tos"] == ["second@example.com"]

    # implicit TLS
    proc, port, log = start("smtp_server.py", "--tls-cert", cert, "--tls-key", key, "--implicit-tls")
    with smtplib.SMTP_SSL("127.0.0.1", port, context=insecure) as s:
        s.send_message(message())
    took = stop(proc)
    assert lines(log, "message")[0]["tls"] is True
    print(f"smtp ok (stopped in {took:.2f} s); sample line:\n{json.dumps(lines(log, 'message')[0], ensure_ascii=False)}")


def post(port, body, token="t", form=False):
    data = (urllib.parse.urlencode(body) if form else json.dumps(body)).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/send", data=data, method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/x-www-form-urlencoded" if form else "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r), r.headers
    except HTTPError as e:
        return e.code, json.load(e), e.headers


def test_http():
    proc, port, log = start("http_sms.py", "--token", "t", "--throttle-every", "3", "--fail", "+86100")
    assert post(port, {"to": "+8613800000001", "text": "x"}, token="no")[0] == 401
    assert post(port, {"to": "+8613800000001", "text": "您好，退订回复TD"})[:2] == (200, {"code": 0, "msgid": "h1"})
    assert post(port, {"to": "+8610000000000", "text": "x"}, form=True)[:2] == (200, {"code": 17, "msg": "invalid number"})
    status, body, headers = post(port, {"to": "+8613800000001", "text": "x"})
    assert (status, body, headers["Retry-After"]) == (429, {"code": 429}, "1")
    assert post(port, {"to": "+8613800000002", "text": "表单"}, form=True)[:2] == (200, {"code": 0, "msgid": "h2"})
    took = stop(proc)
    got = lines(log)
    assert [x["status"] for x in got] == [401, 200, 200, 429, 200]
    assert got[1]["body"]["text"] == "您好，退订回复TD" and got[4]["body"] == {"to": "+8613800000002", "text": "表单"}
    print(f"http ok (stopped in {took:.2f} s)")


import urllib.parse  # noqa: E402

test_smtp()
test_http()
print("peers selftest: ok")
