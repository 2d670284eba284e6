import Glibc

/// Whole-file writes without Foundation (reports, charts).
enum TextFile {
    /// Creates or truncates `path` and writes `text`; false on any error (errno set).
    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { return false }
        defer { close(fd) }
        var text = text
        return text.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }

    /// mkdir that accepts an existing directory; false on any other error.
    static func makeDirectory(_ path: String) -> Bool {
        mkdir(path, 0o755) == 0 || errno == EEXIST
    }
}
