#!/usr/bin/env python3
"""SMTP server for huifang's integration tests (aiosmtpd; see README.md).

Prints `READY <port>` once listening and logs one JSON line per event to --log.
"""
import argparse
import asyncio
import email
import email.policy
import json
import logging
import signal
import ssl
import sys
import warnings
from datetime import datetime, timezone

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=0, help="0 = any free port")
p.add_argument("--log", help="JSON lines file")
p.add_argument("--user")
p.add_argument("--password")
p.add_argument("--tls-cert")
p.add_argument("--tls-key")
p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (needs --tls-cert/--tls-key)")
p.add_argument("--reject", action="append", default=[], help="recipients containing this get 550 at RCPT")
p.add_argument("--tempfail-first", type=int, default=0, help="the first N messages get 451 at DATA")
args = p.parse_args()
# AUTH without TLS on loopback is what we want: keep aiosmtpd's warnings about it off stderr.
warnings.filterwarnings("ignore", category=UserWarning, module="aiosmtpd")
logging.getLogger("mail.log").setLevel(logging.ERROR)

log_file = open(args.log, "a", encoding="utf-8") if args.log else None


def log(obj):
    line = json.dumps({"ts": datetime.now(timezone.utc).isoformat(), **obj}, ensure_ascii=False)
    if log_file:
        log_file.write(line + "\n")
        log_file.flush()


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = {}
    for name, value in msg.items():
        headers.setdefault(name, str(value))  # decoded (RFC 2047); first occurrence wins

    def part(kind):  # decoded str with \n line ends
        body = msg.get_body(preferencelist=(kind,))
        return body.get_content().replace("\r\n", "\n") if body is not None else None

    return {
        "subject": str(msg["Subject"]) if msg["Subject"] is not None else None,
        "message_id": msg["Message-ID"] and str(msg["Message-ID"]),
        "from": msg["From"] and str(msg["From"]),
        "to": msg["To"] and str(msg["To"]),
        "list_unsubscribe": msg["List-Unsubscribe"] and str(msg["List-Unsubscribe"]),
        "list_unsubscribe_post": msg["List-Unsubscribe-Post"] and str(msg["List-Unsubscribe-Post"]),
        "content_type": msg.get_content_type(),
        "text": part("plain"),
        "html": part("html"),
        "attachments": [
            {"filename": a.get_filename(), "content_type": a.get_content_type(), "size": len(a.get_content() or b"")}
            for a in msg.iter_attachments()
        ],
        "headers": headers,
    }


class Handler:
    def __init__(self):
        self.messages = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(r in address for r in args.reject):
            log({"event": "reject_rcpt", "rcpt": address, "code": 550})
            return "550 5.1.1 Recipient rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        if self.messages <= args.tempfail_first:
            log({"event": "tempfail", "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "code": 451})
            return "451 4.3.0 Temporary failure, try again later"
        raw = envelope.original_content or envelope.content
        log({
            "event": "message",
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "auth_user": session.auth_data if session.authenticated else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "size": len(raw),
            **parse(raw),
        })
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
          and auth_data.password.decode() == args.password)
    log({"event": "auth", "mechanism": mechanism, "success": ok,
         "login": auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else None})
    return AuthResult(success=ok, handled=False, auth_data=args.user if ok else None)  # handled=False: aiosmtpd sends 535


async def main():
    loop = asyncio.get_running_loop()
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    elif args.implicit_tls:
        sys.exit("smtp_server.py: --implicit-tls needs --tls-cert and --tls-key")
    handler = Handler()
    auth = bool(args.user)

    def factory():
        return SMTP(handler, loop=loop, hostname="localhost", enable_SMTPUTF8=True,
                    tls_context=None if args.implicit_tls else tls,
                    authenticator=authenticator if auth else None, auth_required=auth, auth_require_tls=False)

    server = await loop.create_server(factory, args.host, args.port, ssl=tls if args.implicit_tls else None)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await stop
    server.close()


asyncio.run(main())
