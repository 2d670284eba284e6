# Sourced by the other scripts: puts a Swift toolchain on PATH if one is installed but not found.
if ! command -v swift >/dev/null 2>&1; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin "$HOME/.swiftly/bin"; do
        if [[ -x "$d/swift" ]]; then export PATH="$d:$PATH"; break; fi
    done
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "uring-relay needs a Swift 6 toolchain on PATH (https://www.swift.org/install/linux/)" >&2
    exit 1
fi
