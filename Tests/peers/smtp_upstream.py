#!/usr/bin/python3
"""An upstream SMTP server for uring-relay's integration tests, built on aiosmtpd.

It listens on loopback (port 0 picks a free port), prints `READY <port>` on stdout once it
accepts connections, and appends one JSON line per message that reached its end of data
(DATA's final dot or BDAT ... LAST) to the file given with --record: envelope, the body bytes
exactly as received (after dot-unstuffing for DATA; BDAT chunks are taken as they are), their
SHA-256, and the reply given. Each line is written with a single write(2) and flushed before
the `MESSAGE` event below, so a reader that saw the event sees the whole line.

Events on stdout, one per line, flushed at once (the test harness waits on them):
  READY <port>
  CONNECT <connection>                    a client connected
  MESSAGE <seq> <code>                    end of data reached, replied <code> (record written)
  DISCONNECT <connection> <body-bytes>    --disconnect-mid-data closed a connection

Faults and capabilities are chosen by flags (see --help). Exits 0 on SIGTERM or SIGINT.

Run it with /usr/bin/python3: aiosmtpd is Debian's python3-aiosmtpd, which a python3 found
first on PATH (pyenv, a venv) does not see.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP, syntax


def event(*words):
    # stdout is a pipe to the harness: flush every event so it is seen when it happens.
    print(*words, flush=True)


def text(value):
    # Addresses and options arrive as str holding surrogate escapes for bytes that are not
    # UTF-8 (aiosmtpd decodes with surrogateescape); JSON needs valid text.
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class Recorder:
    """Appends one JSON line per message to the record file."""

    def __init__(self, path):
        # O_APPEND + one write per line: a concurrent reader never sees half a line
        # followed by another message's bytes.
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self.seq = 0

    def record(self, server, session, envelope, body, reply):
        self.seq += 1
        entry = {
            "seq": self.seq,
            "connection": server.connection_index,
            "peer": address_text(session.peer),
            "helo": text(session.host_name or ""),
            "esmtp": bool(session.extended_smtp),
            "mail_from": text(envelope.mail_from or ""),
            "mail_options": [text(o) for o in envelope.mail_options],
            "rcpt_tos": [text(r) for r in envelope.rcpt_tos],
            "rcpt_options": [text(o) for o in envelope.rcpt_options],
            "smtputf8": bool(envelope.smtp_utf8),
            "transfer": "BDAT" if getattr(envelope, "bdat_body", None) is not None else "DATA",
            "chunks": getattr(envelope, "bdat_chunks", 0),
            "pipelined": bool(getattr(envelope, "pipelined", False)),
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "body_base64": base64.b64encode(body).decode("ascii"),
            "reply": reply,
            "accepted": reply.startswith("2"),
        }
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        os.write(self.fd, line)
        event("MESSAGE", self.seq, reply[:3])


def address_text(peer):
    # "127.0.0.1:40112" or "[::1]:40112", as SocketAddress prints them on the Swift side.
    if not peer:
        return ""
    host, port = peer[0], peer[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


class Handler:
    """aiosmtpd hooks: refused recipients, end-of-data faults, EHLO keywords, recording."""

    def __init__(self, options, recorder):
        self.options = options
        self.recorder = recorder
        self.refused = {a.lower() for a in options.refuse_rcpt}
        self.tempfailed = {a.lower() for a in options.tempfail_rcpt}

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # With this (5-argument) hook aiosmtpd leaves remembering the name to us.
        session.host_name = hostname
        lines = [r for r in responses[:-1] if not (r == "250-8BITMIME" and self.options.no_8bitmime)]
        # aiosmtpd reads commands one line at a time, so it copes with pipelined input
        # whether or not PIPELINING is advertised; the flag only changes the advertisement.
        if not self.options.no_pipelining:
            lines.append("250-PIPELINING")
        if not self.options.no_chunking:
            lines.append("250-CHUNKING")
        lines.append(responses[-1])
        return lines

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.options.no_8bitmime and "BODY=8BITMIME" in mail_options:
            # aiosmtpd accepts BODY=8BITMIME even when 8BITMIME is not advertised; refuse it so
            # a client that ignores the advertisement is caught.
            return "555 5.5.4 BODY=8BITMIME not advertised"
        note_pipelining(server, envelope)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        note_pipelining(server, envelope)
        if address.lower() in self.refused:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.lower() in self.tempfailed:
            return "451 4.2.0 <%s>: Mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.options.tempfail_data:
            reply = "451 4.3.0 Temporary failure, try again later"
        elif self.options.reject_data:
            reply = "554 5.6.0 Message rejected"
        else:
            reply = "250 2.0.0 OK queued as %d" % (self.recorder.seq + 1)
        self.recorder.record(server, session, envelope, envelope.original_content, reply)
        return reply


def note_pipelining(server, envelope):
    # Bytes already buffered after the command being handled mean the client sent more
    # before it had this reply: it pipelined. (No bytes proves nothing: TCP may split.)
    if len(server._reader._buffer) > 0:
        envelope.pipelined = True


class UpstreamSMTP(SMTP):
    """aiosmtpd's SMTP with BDAT (RFC 3030), reply delays, a 421 greeting, and cutting
    the connection mid-body. aiosmtpd 1.4 has no CHUNKING of its own."""

    def __init__(self, handler, options, connection_index, connections, **kwargs):
        super().__init__(handler, **kwargs)
        self.options = options
        self.connection_index = connection_index
        self.connections = connections
        self.in_multiline_reply = False
        if options.no_chunking:
            # Unknown command then, as for a server without CHUNKING: "500 ... not recognized".
            self._smtp_methods.pop("BDAT", None)

    def connection_made(self, transport):
        super().connection_made(transport)
        self.connections.add(transport)
        event("CONNECT", self.connection_index)

    def connection_lost(self, error):
        self.connections.discard(self.transport)
        super().connection_lost(error)

    async def push(self, status):
        # --slow: delay once per reply, before its first line (a multi-line EHLO reply is
        # pushed line by line; its continuation lines follow at once).
        if self.options.slow and not self.in_multiline_reply:
            await asyncio.sleep(self.options.slow)
        line = status if isinstance(status, str) else status.decode("ascii", "replace")
        self.in_multiline_reply = line[3:4] == "-"
        await super().push(status)

    async def _handle_client(self):
        if self.options.greet_421:
            await self.push("421 4.3.2 %s Service not available, closing channel" % self.hostname)
            self.transport.close()
            return
        await super()._handle_client()

    def cut_connection(self, received):
        event("DISCONNECT", self.connection_index, received)
        self.transport.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg):
        if getattr(self.envelope, "bdat_body", None) is not None:
            return await self.push("503 5.5.1 DATA not allowed after BDAT")
        limit = self.options.disconnect_mid_data
        if limit is None or not self.envelope.rcpt_tos or arg:
            return await super().smtp_DATA(arg)
        # --disconnect-mid-data N: read N body bytes (or up to the end of data, if the
        # message is shorter), then close without a reply.
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        received = b""
        while len(received) < limit and not ends_data(received):
            chunk = await self._reader.read(limit - len(received))
            if not chunk:
                break
            received += chunk
        self.cut_connection(len(received))

    @syntax("BDAT chunk-size [LAST]")
    async def smtp_BDAT(self, arg):
        words = (arg or "").split()
        if not (1 <= len(words) <= 2 and words[0].isdigit()) or (len(words) == 2 and words[1].upper() != "LAST"):
            # The chunk's length is unknown, so the next command cannot be found: give up.
            await self.push("501 5.5.4 Syntax: BDAT chunk-size [LAST]")
            self.transport.close()
            return
        size = int(words[0])
        last = len(words) == 2
        chunk = await self.read_chunk(size)
        if chunk is None:
            return
        # Checks come after the chunk is read: its bytes must be consumed either way.
        if not self.session.host_name:
            return await self.push("503 5.5.1 Error: send HELO first")
        if not self.envelope.mail_from:
            return await self.push("503 5.5.1 Error: need MAIL command")
        if not self.envelope.rcpt_tos:
            return await self.push("503 5.5.1 Error: need RCPT command")
        envelope = self.envelope
        if getattr(envelope, "bdat_body", None) is None:
            envelope.bdat_body = bytearray()
            envelope.bdat_chunks = 0
            envelope.bdat_too_big = False
        envelope.bdat_chunks += 1
        if self.data_size_limit and len(envelope.bdat_body) + size > self.data_size_limit:
            envelope.bdat_too_big = True
            envelope.bdat_body = bytearray(b"")  # keep memory bounded; the message is lost
        if not envelope.bdat_too_big:
            envelope.bdat_body += chunk
        if not last:
            if envelope.bdat_too_big:
                return await self.push("552 5.3.4 Error: message too big")
            return await self.push("250 2.0.0 %d octets received" % size)
        if envelope.bdat_too_big:
            self._set_post_data_state()
            return await self.push("552 5.3.4 Error: message too big")
        envelope.original_content = bytes(envelope.bdat_body)
        envelope.content = envelope.original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)

    async def read_chunk(self, size):
        """A BDAT chunk's bytes, or None if --disconnect-mid-data cut the connection."""
        limit = self.options.disconnect_mid_data
        seen = getattr(self.envelope, "bdat_body", None)
        already = len(seen) if seen is not None else 0
        if limit is not None and self.envelope.rcpt_tos and already + size >= limit:
            take = max(0, limit - already)
            part = await self._reader.readexactly(take) if take else b""
            self.cut_connection(already + len(part))
            return None
        return await self._reader.readexactly(size)


def ends_data(received):
    return received.startswith(b".\r\n") or b"\r\n.\r\n" in received


def parse_arguments(argv):
    p = argparse.ArgumentParser(description="aiosmtpd upstream for uring-relay tests")
    p.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--record", required=True, help="append one JSON line per message here")
    p.add_argument("--hostname", default="upstream.test", help="name in the greeting and EHLO")
    p.add_argument("--no-chunking", action="store_true", help="no CHUNKING; BDAT is an unknown command")
    p.add_argument("--no-smtputf8", action="store_true", help="no SMTPUTF8; MAIL ... SMTPUTF8 gets 501")
    p.add_argument("--no-8bitmime", action="store_true", help="no 8BITMIME; MAIL ... BODY=8BITMIME gets 555")
    p.add_argument("--no-pipelining", action="store_true", help="do not advertise PIPELINING")
    p.add_argument("--refuse-rcpt", action="append", default=[], metavar="ADDR",
                   help="550 5.1.1 for this recipient (repeatable, case-insensitive)")
    p.add_argument("--tempfail-rcpt", action="append", default=[], metavar="ADDR",
                   help="RCPT TO this address gets 451 4.2.0 (repeatable)")
    p.add_argument("--tempfail-data", action="store_true", help="451 at end of data")
    p.add_argument("--reject-data", action="store_true", help="554 at end of data")
    p.add_argument("--disconnect-mid-data", type=int, metavar="N",
                   help="close the connection after N body bytes, without a reply")
    p.add_argument("--slow", type=float, default=0, metavar="SECONDS", help="delay before every reply")
    p.add_argument("--greet-421", action="store_true", help="greet with 421 and close")
    p.add_argument("--max-size", type=int, metavar="N",
                   help="SIZE N: larger MAIL SIZE= or bodies get 552 (0: no limit, SIZE not advertised)")
    p.add_argument("--watch-stdin", action="store_true",
                   help="exit when stdin reaches EOF (the harness died)")
    return p.parse_args(argv)


async def serve(options):
    loop = asyncio.get_running_loop()
    recorder = Recorder(options.record)
    handler = Handler(options, recorder)
    connections = set()
    counter = iter(range(1 << 62))
    size = 33554432 if options.max_size is None else options.max_size

    def factory():
        return UpstreamSMTP(handler, options, next(counter), connections,
                            hostname=options.hostname, ident="aiosmtpd upstream",
                            data_size_limit=size or None,
                            enable_SMTPUTF8=not options.no_smtputf8,
                            decode_data=False, timeout=60, loop=loop)

    server = await loop.create_server(factory, host=options.host, port=options.port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if options.watch_stdin:
        loop.add_reader(sys.stdin.fileno(), lambda: os.read(sys.stdin.fileno(), 4096) or stop.set())
    event("READY", server.sockets[0].getsockname()[1])
    await stop.wait()
    server.close()
    for transport in list(connections):
        transport.abort()
    await server.wait_closed()
    os.close(recorder.fd)


def main():
    options = parse_arguments(sys.argv[1:])
    asyncio.run(serve(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
