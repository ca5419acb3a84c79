#!/usr/bin/env python3
"""A real SMTP relay for the email channel tests (tests/src/smtp.rs).

Runs aiosmtpd (Debian's python3-aiosmtpd, which `cargo xtask test`
installs) on 127.0.0.1:PORT and saves every message it accepts into OUT as
<n>.eml (the message as received) beside <n>.json: the envelope (sender,
recipients, whether the session was encrypted, the login used) and the
message as Python's email package reads it (headers, the text and the
HTML part, each part's content type), so the test checks the MIME
structure through a second, independent parser. With
--cert and --key it offers STARTTLS (and requires it), or with --implicit
speaks TLS from the first byte; with --user and --password it requires
AUTH and refuses other credentials. Prints "ready" once it accepts
connections, then serves until it is killed.
"""

import argparse
import email
import email.policy
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Saver:
    """Saves each accepted message and its envelope, numbered from 1."""

    def __init__(self, out, implicit_tls):
        self.out = out
        self.implicit_tls = implicit_tls
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        login = getattr(session, "perfwatch_login", None)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or self.implicit_tls,
            "login": login,
            "subject": message["subject"],
            "from": message["from"],
            "to": message["to"],
            "content_type": message.get_content_type(),
            "parts": [part.get_content_type() for part in message.walk()],
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        # Written under a temporary name first: the test polls the
        # directory and must never read half a message.
        for suffix, data in ((".eml", envelope.original_content), (".json", json.dumps(meta).encode())):
            path = os.path.join(self.out, f"{n}{suffix}")
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.rename(path + ".tmp", path)
        return "250 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        if ok:
            session.perfwatch_login = args.user
        return AuthResult(success=ok)

    options = {}
    if args.user:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit TLS
        # connection is encrypted from the first byte, so it may AUTH too.
        options.update(
            authenticator=authenticator, auth_required=True, auth_require_tls=not args.implicit
        )
    if context is not None and args.implicit:
        controller = Controller(
            Saver(args.out, args.implicit), hostname="127.0.0.1", port=args.port, ssl_context=context, **options
        )
    elif context is not None:
        controller = Controller(
            Saver(args.out, args.implicit),
            hostname="127.0.0.1",
            port=args.port,
            tls_context=context,
            require_starttls=True,
            **options,
        )
    else:
        controller = Controller(Saver(args.out, args.implicit), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
