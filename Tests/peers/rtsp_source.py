#!/usr/bin/python3
"""An RTSP camera for uring-relay's integration tests, built on GStreamer's RTSP server.

Every --path is a mount serving a live H.264 test pattern (320x240, 25 fps, a keyframe every
second, SPS/PPS repeated in-band before each keyframe so a reader that joins late, or through
a relay, can start decoding at the next keyframe). A mount's media is shared: all readers of
one path see one encoder, as a camera would. --record-path adds a mount in RECORD mode that
accepts an ANNOUNCE/RECORD publisher and decodes what it sends.

Events on stdout, one per line, flushed at once (the test harness waits on them):
  READY <port>                          listening
  CLIENT-CONNECTED <client> <ip>:<port> an RTSP connection was accepted
  DESCRIBE|SETUP|PLAY|RECORD|TEARDOWN <client> <path>   a request was handled
  CLIENT-CLOSED <client>                that connection is gone (closed, reset or timed out)
  MEDIA-PREPARED <path>                 a mount's pipeline started (its first reader came)
  MEDIA-UNPREPARED <path>               a mount's pipeline stopped (its last reader left)
  RECORD-FRAMES <path> <count>          the record mount decoded <count> frames in all
                                        (every --report-every frames)
  RECORD-ERROR <path> <message>         the record mount's pipeline reported an error

<client> numbers connections from 1 in accept order; <ip>:<port> is the connecting socket's
address, so a test can tell the relay's connection from its own. Exits 0 on SIGTERM or SIGINT,
and at EOF on stdin with --watch-stdin.

Run it with /usr/bin/python3: python3-gi and the GStreamer typelibs are Debian packages,
which a python3 found first on PATH (pyenv, a venv) does not see.
"""

import argparse
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# The streaming threads (the record mount's handoffs) print too: one lock keeps lines whole.
_print_lock = threading.Lock()


def event(*words):
    # stdout is a pipe to the harness: flush every event so it is seen when it happens.
    with _print_lock:
        try:
            sys.stdout.write(" ".join(str(w) for w in words) + "\n")
            sys.stdout.flush()
        except OSError:
            # The harness is gone (a broken pipe): no one is left to serve or report to.
            os._exit(1)


# The played mounts. No B-frames (tune=zerolatency), so decode order is presentation order and
# a reader's pts must rise strictly; config-interval=-1 sends SPS/PPS with every IDR.
PLAY_LAUNCH = (
    "( videotestsrc is-live=true pattern={pattern} "
    "! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=600 threads=1 "
    "! video/x-h264,profile=constrained-baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)

# The record mount: the server links the announced stream to depay0. avdec_h264 takes the
# depayloader's AVC output directly, so no parser (and no plugins-bad) is needed.
RECORD_LAUNCH = (
    "( rtph264depay name=depay0 ! avdec_h264 name=decoder "
    "! fakesink name=sink signal-handoffs=true sync=false async=false )"
)

PROTOCOLS = {
    "tcp": GstRtsp.RTSPLowerTrans.TCP,
    "udp": GstRtsp.RTSPLowerTrans.UDP,
    "both": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
}

ROLE = "user"


class Source:
    def __init__(self, options):
        self.options = options
        self.loop = GLib.MainLoop()
        self.clients = 0
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(options.host)
        # "0": the kernel picks the port; get_bound_port tells which after attach.
        self.server.set_service(str(options.port))
        self.server.connect("client-connected", self.on_client_connected)
        if options.user is not None:
            self.server.set_auth(self.make_auth())
        mounts = self.server.get_mount_points()
        for index, path in enumerate(options.path or ["/cam"]):
            mounts.add_factory(path, self.play_factory(path, index))
        if options.record_path:
            mounts.add_factory(options.record_path, self.record_factory(options.record_path))

    def make_auth(self):
        options = self.options
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        if options.auth == "digest":
            auth.add_digest(options.user, options.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(options.user, options.password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        # No default token: a request without valid credentials gets 401.
        return auth

    def permit(self, factory):
        if self.options.user is not None:
            factory.add_role_from_structure(Gst.Structure.from_string(
                "%s, media.factory.access=(boolean)true, media.factory.construct=(boolean)true" % ROLE)[0])

    def play_factory(self, path, index):
        factory = GstRtspServer.RTSPMediaFactory()
        # Patterns differ per mount, so a relay that mixed two mounts up would show.
        factory.set_launch(PLAY_LAUNCH.format(pattern=["smpte", "ball", "snow", "pinwheel"][index % 4]))
        factory.set_shared(True)
        factory.set_protocols(PROTOCOLS[self.options.protocols])
        self.permit(factory)
        factory.connect("media-configure", self.on_media_configure, path)
        return factory

    def record_factory(self, path):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(RECORD_LAUNCH)
        factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
        factory.set_protocols(PROTOCOLS[self.options.protocols])
        # A publisher's session is the media's only one; ffmpeg sends no RTCP receiver
        # reports to time out on, so the connection closing is what ends it.
        self.permit(factory)
        factory.connect("media-configure", self.on_record_configure, path)
        return factory

    # MARK: events

    def on_client_connected(self, server, client):
        self.clients += 1
        number = self.clients
        connection = client.get_connection()
        port = 0
        try:
            port = connection.get_read_socket().get_remote_address().get_port()
        except Exception:  # noqa: BLE001 - the address is informative only
            pass
        event("CLIENT-CONNECTED", number, "%s:%d" % (connection.get_ip(), port))
        # 'closed' is emitted once when the server lets go of the connection, however it ended.
        client.connect("closed", lambda c: event("CLIENT-CLOSED", number))
        for request in ("describe", "setup", "play", "record", "teardown"):
            client.connect(request + "-request", self.on_request, request.upper(), number)

    def on_request(self, client, context, name, number):
        event(name, number, context.uri.abspath if context.uri is not None else "?")

    def on_media_configure(self, factory, media, path):
        media.connect("prepared", lambda m: event("MEDIA-PREPARED", path))
        media.connect("unprepared", lambda m: event("MEDIA-UNPREPARED", path))

    def on_record_configure(self, factory, media, path):
        self.on_media_configure(factory, media, path)
        pipeline = media.get_element()
        sink = pipeline.get_by_name("sink")
        decoded = [0]
        every = self.options.report_every

        def on_handoff(element, buffer, pad):
            decoded[0] += 1
            if decoded[0] % every == 0:
                event("RECORD-FRAMES", path, decoded[0])

        sink.connect("handoff", on_handoff)
        decoder = pipeline.get_by_name("decoder")

        # The decoder's warnings and errors are what a broken published stream looks like.
        def on_decoder_message(bus, message):
            if message.src == decoder and message.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING):
                error, _ = message.parse_error() if message.type == Gst.MessageType.ERROR else message.parse_warning()
                event("RECORD-ERROR", path, error.message.replace("\n", " "))

        # The media watches the bus itself (asynchronously); sync messages reach us as well.
        bus = pipeline.get_bus()
        if bus is not None:
            bus.enable_sync_message_emission()
            bus.connect("sync-message", on_decoder_message)

    # MARK: running

    def run(self):
        if self.server.attach(None) == 0:
            print("rtsp_source.py: cannot listen on %s:%s" % (self.options.host, self.options.port), file=sys.stderr)
            return 1
        for sig in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, self.quit)
        if self.options.watch_stdin:
            GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, self.on_stdin)
        event("READY", self.server.get_bound_port())
        self.loop.run()
        return 0

    def on_stdin(self, fd, condition):
        if os.read(fd, 4096):
            return True
        self.quit()
        return False

    def quit(self):
        self.loop.quit()
        return False


def parse_arguments(argv):
    p = argparse.ArgumentParser(description="GStreamer RTSP camera for uring-relay tests")
    p.add_argument("--host", default="127.0.0.1", help="listen address")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--path", action="append", help="a played mount (repeatable; default /cam)")
    p.add_argument("--record-path", help="a mount accepting ANNOUNCE/RECORD publishers")
    p.add_argument("--report-every", type=int, default=25, metavar="N",
                   help="RECORD-FRAMES line every N decoded frames (default 25)")
    p.add_argument("--user", help="require these credentials (with --password)")
    p.add_argument("--password", default="")
    p.add_argument("--auth", choices=["basic", "digest"], default="basic")
    p.add_argument("--protocols", choices=sorted(PROTOCOLS), default="both",
                   help="lower transports offered to clients (default both)")
    p.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches EOF (the harness died)")
    return p.parse_args(argv)


def main():
    options = parse_arguments(sys.argv[1:])
    Gst.init(None)
    return Source(options).run()


if __name__ == "__main__":
    sys.exit(main())
