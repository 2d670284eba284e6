#!/usr/bin/python3
"""An SMTP client for uring-relay's integration tests, built on Python's smtplib.

Sends --messages N messages to --server HOST:PORT and prints one JSON line per message:
every command sent with the server's reply (code and text), the EHLO keywords, the body's
size and SHA-256 (of the bytes a correct server stores: the body as given, with CRLF
appended when it does not end in one), and an error if the exchange could not go on.

A refusal (4xx/5xx), a refused connection or a server that hangs up is data, not a failure:
the exit status is 0 then. It is non-zero only for a usage error or a bug here.

Bodies: --body-file PATH (sent as is), or --generate SIZE (deterministic text, CRLF lines,
different for every message).

Transfer: smtplib's connect()/ehlo()/mail()/rcpt()/rset()/quit(), and DATA through its
putcmd()/getreply()/send() so the 354 is recorded on its own. smtplib has neither PIPELINING
nor CHUNKING, so --pipelining writes MAIL, every RCPT and DATA in one send and then reads the
replies in order (RFC 2920), and --chunk-size N sends the body as BDAT chunks of N bytes
(RFC 3030). Dot-stuffing is done here: a "." starting a line (after CRLF) is doubled; a bare
LF or CR is sent as it is.
"""

import argparse
import hashlib
import json
import re
import smtplib
import sys
import time

CRLF = b"\r\n"


def parse_arguments(argv):
    p = argparse.ArgumentParser(description="smtplib client for uring-relay tests")
    p.add_argument("--server", required=True, help="HOST:PORT, IPv6 in brackets: [::1]:2525")
    p.add_argument("--from", dest="sender", default="sender@client.test")
    p.add_argument("--to", action="append", default=[], help="recipient (repeatable)")
    p.add_argument("--mail-option", action="append", default=[], help="e.g. SMTPUTF8, BODY=8BITMIME")
    p.add_argument("--ehlo", default="client.test", help="name for EHLO")
    p.add_argument("--helo", action="store_true", help="HELO instead of EHLO")
    body = p.add_mutually_exclusive_group()
    body.add_argument("--body-file", help="message (headers and body) to send as is")
    body.add_argument("--generate", type=int, metavar="SIZE", help="generate a SIZE-byte message")
    p.add_argument("--messages", type=int, default=1)
    p.add_argument("--reconnect", action="store_true", help="a new connection for every message")
    p.add_argument("--pipelining", action="store_true", help="MAIL, RCPTs and DATA in one write")
    p.add_argument("--chunk-size", type=int, default=0, metavar="N", help="BDAT chunks of N bytes")
    p.add_argument("--timeout", type=float, default=20)
    options = p.parse_args(argv)
    if not options.to:
        options.to = ["rcpt@upstream.test"]
    host, _, port = options.server.rpartition(":")
    if not host or not port.isdigit():
        p.error("--server needs HOST:PORT")
    options.host, options.port = host.strip("[]"), int(port)
    return options


def generated_body(index, size):
    """SIZE bytes of CRLF-terminated lines, distinct per message, including a line that
    starts with '.' so dot-stuffing is exercised."""
    head = ("Subject: smtplib message %d\r\nX-Index: %d\r\n\r\n.leading dot line\r\n" % (index, index)).encode()
    line = b"%06d abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
    out = bytearray(head)
    n = 0
    while len(out) < size:
        out += line % n
        n += 1
    out = out[:max(size, 2)]
    out[-2:] = CRLF  # always end in CRLF, so what is sent is what must arrive
    return bytes(out)


def stored_body(body):
    # A server stores the body with a final CRLF: smtplib and this script add one if needed.
    return body if body.endswith(CRLF) else body + CRLF


def dot_stuffed(body):
    return re.sub(rb"(^|\r\n)\.", rb"\1..", stored_body(body))


class Session:
    """One SMTP connection and the steps recorded for the message being sent."""

    def __init__(self, options):
        self.options = options
        self.smtp = None
        self.features = []

    @property
    def open(self):
        return self.smtp is not None

    def step(self, steps, command, argument, reply):
        code, text = reply
        steps.append({"command": command, "argument": argument, "code": code,
                      "text": text.decode("utf-8", "replace") if isinstance(text, bytes) else text})
        return code

    def connect(self, steps):
        self.smtp = smtplib.SMTP(timeout=self.options.timeout)
        # connect() (unlike the constructor) returns the greeting instead of raising on it.
        code = self.step(steps, "CONNECT", self.options.server, self.smtp.connect(self.options.host, self.options.port))
        if code != 220:
            self.close()
            return False
        if self.options.helo:
            code = self.step(steps, "HELO", self.options.ehlo, self.smtp.helo(self.options.ehlo))
        else:
            code = self.step(steps, "EHLO", self.options.ehlo, self.smtp.ehlo(self.options.ehlo))
            self.features = sorted(k.upper() for k in self.smtp.esmtp_features)
        if code != 250:
            self.quit(steps)
            return False
        return True

    def send(self, steps, body):
        o = self.options
        if o.pipelining:
            return self.send_pipelined(steps, body)
        if self.step(steps, "MAIL", o.sender, self.smtp.mail(o.sender, o.mail_option)) != 250:
            return self.reset(steps)
        accepted = [r for r in o.to if self.step(steps, "RCPT", r, self.smtp.rcpt(r)) in (250, 251)]
        if not accepted:
            return self.reset(steps)
        if o.chunk_size:
            return self.send_chunks(steps, body)
        # Not smtplib's data(): it hides the 354 (so a hang-up after it could not be told
        # from one before it) and also doubles a "." after a bare LF, which no server undoes.
        self.smtp.putcmd("data")
        if self.step(steps, "DATA", "", self.smtp.getreply()) != 354:
            return self.reset(steps)
        self.smtp.send(dot_stuffed(body) + b".\r\n")
        return self.step(steps, "DOT", "", self.smtp.getreply())

    def send_pipelined(self, steps, body):
        o = self.options
        mail = "MAIL FROM:<%s>%s" % (o.sender, "".join(" " + x for x in o.mail_option))
        commands = [("MAIL", o.sender, mail)] + [("RCPT", r, "RCPT TO:<%s>" % r) for r in o.to]
        if not o.chunk_size:
            commands.append(("DATA", "", "DATA"))
        wire = "".join(c[2] + "\r\n" for c in commands)
        self.smtp.send(wire.encode("utf-8" if "SMTPUTF8" in o.mail_option else "ascii"))
        codes = {}
        for name, argument, _ in commands:
            codes.setdefault(name, []).append(self.step(steps, name, argument, self.smtp.getreply()))
        if codes["MAIL"][0] != 250 or not any(c in (250, 251) for c in codes["RCPT"]):
            if codes.get("DATA") == [354]:
                # Every recipient refused after DATA was accepted: end the empty message.
                self.smtp.send(b".\r\n")
                self.step(steps, "DOT", "", self.smtp.getreply())
            return self.reset(steps)
        if o.chunk_size:
            return self.send_chunks(steps, body)
        if codes["DATA"][0] != 354:
            return self.reset(steps)
        self.smtp.send(dot_stuffed(body) + b".\r\n")
        return self.step(steps, "DOT", "", self.smtp.getreply())

    def send_chunks(self, steps, body):
        data = stored_body(body)
        size = self.options.chunk_size
        chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            argument = "%d%s" % (len(chunk), " LAST" if last else "")
            self.smtp.send(b"BDAT " + argument.encode() + CRLF + chunk)
            code = self.step(steps, "BDAT", argument, self.smtp.getreply())
            if code != 250 or last:
                return code
        return None

    def reset(self, steps):
        self.step(steps, "RSET", "", self.smtp.rset())
        return None

    def quit(self, steps):
        try:
            self.step(steps, "QUIT", "", self.smtp.quit())
        except (smtplib.SMTPException, OSError):
            pass
        self.close()

    def close(self):
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None


def main():
    options = parse_arguments(sys.argv[1:])
    fixed = None
    if options.body_file:
        with open(options.body_file, "rb") as f:
            fixed = f.read()
    session = Session(options)
    for index in range(options.messages):
        body = fixed if fixed is not None else generated_body(index, options.generate or 256)
        steps = []
        error = None
        started = time.monotonic()
        try:
            if not session.open:
                if not session.connect(steps):
                    error = "connection refused by the server's greeting or EHLO"
            if session.open:
                session.send(steps, body)
        except smtplib.SMTPNotSupportedError as e:
            # e.g. MAIL ... SMTPUTF8 when the server does not advertise SMTPUTF8: smtplib
            # refuses before sending anything; the session goes on with the next message.
            error = "%s: %s" % (type(e).__name__, e)
        except OSError as e:
            # smtplib's exceptions are OSErrors too: a hang-up (SMTPServerDisconnected), a
            # reset, a refused connection, a timeout. The next message reconnects.
            error = "%s: %s" % (type(e).__name__, e)
            session.close()
        if session.open and (options.reconnect or index == options.messages - 1):
            session.quit(steps)
        line = {
            "message": index,
            "steps": steps,
            "capabilities": session.features,
            "size": len(stored_body(body)),
            "sha256": hashlib.sha256(stored_body(body)).hexdigest(),
            "error": error,
            "elapsed": round(time.monotonic() - started, 6),
        }
        print(json.dumps(line), flush=True)
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
