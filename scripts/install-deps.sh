#!/usr/bin/env bash
# Installs what uring-relay needs on Debian/Ubuntu, skipping what is already there.
#   scripts/install-deps.sh           build and run (liburing-dev, pkg-config)
#   scripts/install-deps.sh --tests   also the peer programs the tests talk to
set -euo pipefail

packages=(liburing-dev pkg-config)
if [[ "${1:-}" == "--tests" ]]; then
    # Peers used by integration tests and by the comparison benchmarks:
    #   swaks             an SMTP client
    #   postfix           for /usr/sbin/smtp-sink and /usr/sbin/smtp-source (no mail system is set up)
    #   python3-aiosmtpd  the upstream SMTP server (Tests/peers/smtp_upstream.py), run with /usr/bin/python3
    #   ffmpeg            the RTP sender and receivers
    #   linux-perf        relay-bench --syscalls (its own tests count a process's syscalls)
    # The RTSP peers (Tests/peers/rtsp_source.py, rtsp_reader_gst.py), run with /usr/bin/python3:
    #   python3-gi                  GStreamer from Python (GObject introspection)
    #   gir1.2-gst-rtsp-server-1.0  GstRtspServer: the RTSP camera, its auth and record mount
    #   gir1.2-gst-plugins-base-1.0 GstRtsp: transport and auth-method enums the camera sets
    #   gstreamer1.0-plugins-base   videotestsrc: the camera's test pattern
    #   gstreamer1.0-plugins-good   rtph264pay/rtph264depay and rtspsrc (the GStreamer reader)
    #   gstreamer1.0-plugins-ugly   x264enc: the camera's encoder
    #   gstreamer1.0-libav          avdec_h264: decoding in the reader and the record mount
    packages+=(python3 procps swaks postfix python3-aiosmtpd ffmpeg linux-perf
               python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gst-plugins-base-1.0
               gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    echo "install-deps: installing ${missing[*]}" >&2
    if [[ " ${missing[*]} " == *" postfix "* ]]; then
        # Postfix's install asks what kind of mail system to set up. "No configuration" installs
        # the programs without configuring or starting one; answering before the install keeps
        # it from asking (and is the answer even where DEBIAN_FRONTEND does not reach).
        echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
    fi
    $sudo apt-get update -qq
    # env: sudo drops variables from the caller's environment, DEBIAN_FRONTEND included.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
