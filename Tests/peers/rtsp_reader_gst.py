#!/usr/bin/python3
"""An RTSP reader for uring-relay's integration tests: GStreamer's rtspsrc, decoding H.264.

  rtspsrc location=URL protocols=tcp|udp ! rtph264depay ! avdec_h264 ! fakesink

Events on stdout, one per line, flushed at once (the test harness waits on them):
  FRAME <pts>         a frame was decoded; <pts> in nanoseconds, or "none" if it had none
  DECODE-ERROR <msg>  the H.264 decoder (libav) reported damage: "concealing ... errors",
                      "non-existing PPS", "no frame!", ... (it may still output a frame)
  WARNING <message>   a warning on the bus (a decoder that could not decode a frame posts one)
  ERROR <message>     an error on the bus (401, connection refused or lost, ...); then exit 1
  EOS                 the stream ended (the server sent BYE or TEARDOWN ended it); then exit 0

Credentials may be in the URL (rtsp://user:password@host:port/path); rtspsrc answers Basic and
Digest challenges with them. Exits 0 on SIGTERM or SIGINT, and at EOF on stdin with
--watch-stdin. Run it with /usr/bin/python3 (python3-gi is a Debian package).
"""

import argparse
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

_print_lock = threading.Lock()


def event(*words):
    # The decoder's streaming thread and the main loop both print: one lock keeps lines whole.
    with _print_lock:
        try:
            sys.stdout.write(" ".join(str(w) for w in words) + "\n")
            sys.stdout.flush()
        except OSError:
            # The harness is gone (a broken pipe): no one is left to serve or report to.
            os._exit(1)


def one_line(text):
    return " ".join((text or "").split())


# libav's own messages about a damaged stream. avdec_h264 posts nothing on the bus for them:
# it conceals and outputs the frame, and libav's log reaches GStreamer's debug log (category
# "libav", at INFO: gst-libav maps AV_LOG_ERROR there), so that log is where they are caught.
DECODE_ERROR_WORDS = ("error", "conceal", "non-existing", "no frame", "missing", "corrupt",
                      "invalid", "illegal", "out of range")


def watch_decoder_log():
    def on_log(category, level, file, function, line, obj, message, *user):
        # An empty file name marks a message from libav itself, not from gst-libav's code.
        if category.get_name() == "libav" and not file and level <= Gst.DebugLevel.INFO:
            text = one_line(message.get())
            if any(word in text.lower() for word in DECODE_ERROR_WORDS):
                event("DECODE-ERROR", text)

    # Only our handler: GStreamer's default one would copy the whole category to stderr.
    Gst.debug_remove_log_function(None)
    Gst.debug_add_log_function(on_log, None)
    Gst.debug_set_threshold_for_name("libav", Gst.DebugLevel.INFO)


def main():
    p = argparse.ArgumentParser(description="GStreamer RTSP reader for uring-relay tests")
    p.add_argument("url")
    p.add_argument("--protocols", choices=["tcp", "udp"], default="tcp")
    p.add_argument("--latency", type=int, default=200, help="rtspsrc jitterbuffer latency, ms")
    p.add_argument("--timeout", type=float, default=5,
                   help="seconds to connect, and without UDP data, before rtspsrc gives up")
    p.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches EOF (the harness died)")
    options = p.parse_args()

    Gst.init(None)
    watch_decoder_log()
    pipeline = Gst.Pipeline.new("reader")
    src = Gst.ElementFactory.make("rtspsrc", "src")
    depay = Gst.ElementFactory.make("rtph264depay", "depay")
    decoder = Gst.ElementFactory.make("avdec_h264", "decoder")
    sink = Gst.ElementFactory.make("fakesink", "sink")
    src.set_property("location", options.url)
    # Only the transport asked for: with udp alone, rtspsrc cannot fall back to TCP behind the
    # test's back when no UDP arrives within --timeout; it reports an error instead.
    src.set_property("protocols", "tcp" if options.protocols == "tcp" else "udp")
    src.set_property("latency", options.latency)
    src.set_property("timeout", int(options.timeout * 1_000_000))
    src.set_property("tcp-timeout", int(options.timeout * 1_000_000))
    # Render as fast as frames come: lateness against the clock is not what is measured.
    sink.set_property("sync", False)
    for element in (src, depay, decoder, sink):
        pipeline.add(element)
    depay.link(decoder)
    decoder.link(sink)

    def on_pad_added(element, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        if caps.get_structure(0).get_string("media") == "video":
            target = depay.get_static_pad("sink")
            if not target.is_linked():
                pad.link(target)

    src.connect("pad-added", on_pad_added)

    def on_decoded(pad, info):
        pts = info.get_buffer().pts
        event("FRAME", "none" if pts == Gst.CLOCK_TIME_NONE else pts)
        return Gst.PadProbeReturn.OK

    decoder.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_decoded)

    loop = GLib.MainLoop()
    status = [0]

    def on_message(bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            event("ERROR", one_line("%s: %s (%s)" % (message.src.get_name(), error.message, debug)))
            status[0] = 1
            loop.quit()
        elif message.type == Gst.MessageType.WARNING:
            warning, debug = message.parse_warning()
            event("WARNING", one_line("%s: %s (%s)" % (message.src.get_name(), warning.message, debug)))
        elif message.type == Gst.MessageType.EOS:
            event("EOS")
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)

    def quit():
        loop.quit()
        return False

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, quit)
    if options.watch_stdin:
        def on_stdin(fd, condition):
            if os.read(fd, 4096):
                return True
            loop.quit()
            return False
        GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin)

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        event("ERROR", "could not start the pipeline")
        return 1
    loop.run()
    # PLAYING -> NULL sends TEARDOWN, so the server sees an orderly end.
    pipeline.set_state(Gst.State.NULL)
    return status[0]


if __name__ == "__main__":
    sys.exit(main())
