import Glibc

/// Unbuffered writes to stderr (progress lines) and stdout (tables), without Foundation.
enum Console {
    static func err(_ s: String) { write(2, s + "\n") }
    static func out(_ s: String) { write(1, s + "\n") }

    private static func write(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }

    /// Prints "relay-bench: message" on stderr and exits.
    static func fail(_ message: String, code: Int32) -> Never {
        err("relay-bench: \(message)")
        exit(code)
    }
}
