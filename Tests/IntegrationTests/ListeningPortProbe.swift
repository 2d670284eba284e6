import Glibc

/// Finds the TCP port a child process listens on by reading /proc: the socket inodes in
/// /proc/PID/fd, matched against the LISTEN rows of /proc/PID/net/tcp and tcp6.
///
/// For peers that bind a port themselves but cannot say which (smtp-sink given port 0):
/// a listening socket in the table is the readiness signal, with no probe connection that
/// would show up in the peer's session counters, and no race for a port picked in advance.
enum ListeningPortProbe {
    static func port(of pid: Int32) -> UInt16? {
        let inodes = socketInodes(of: pid)
        guard !inodes.isEmpty else { return nil }
        for table in ["tcp", "tcp6"] {
            guard let text = readSmallFile("/proc/\(pid)/net/\(table)") else { continue }
            for row in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                let f = row.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count > 9, f[3] == "0A", inodes.contains(String(f[9])),
                      let colon = f[1].lastIndex(of: ":") else { continue }
                if let port = UInt16(f[1][f[1].index(after: colon)...], radix: 16) { return port }
            }
        }
        return nil
    }

    private static func socketInodes(of pid: Int32) -> Set<String> {
        var out = Set<String>()
        guard let dir = opendir("/proc/\(pid)/fd") else { return out }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard Int32(name) != nil else { continue }
            var target = [CChar](repeating: 0, count: 128)
            let n = readlink("/proc/\(pid)/fd/\(name)", &target, 127)
            guard n > 0 else { continue }
            let link = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.hasPrefix("socket:["), link.hasSuffix("]") { out.insert(String(link.dropFirst(8).dropLast())) }
        }
        return out
    }

    /// /proc files report size 0, so read until EOF rather than by stat size.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < 4 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
