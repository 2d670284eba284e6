/// Parses what arrives on an RTSP TCP connection: requests and responses (RFC 2326 §4, §6, §7)
/// interleaved with binary `$` frames (§10.12: `$`, channel byte, 16-bit big-endian length,
/// payload).
///
/// Stateless over its input: `next` looks at the front of the bytes not consumed yet and says
/// what is there and how many bytes it took. The caller keeps the unconsumed bytes contiguous
/// and calls again when more arrive, so a split anywhere gives the same items.
///
/// Tolerant where cameras are sloppy: LF-only line ends, blank lines between messages, header
/// names in any case, spaces around values, header lines without ':' (ignored), folded
/// continuation lines (joined with one space), responses without a reason phrase.
/// Strict where it protects: a start line must be `METHOD SP URI SP RTSP/1.x` or
/// `RTSP/1.x SP ddd [SP reason]`; a message over `maxMessageBytes` (headers and body), or a
/// header section that grows past it without its blank line, is invalid instead of being
/// waited for; Content-Length must be digits, and repeats must agree (two different lengths
/// would let two parsers frame the stream differently).
public struct RTSPStreamParser: Sendable {
    public typealias Item = RTSPStreamItem

    /// Limit on one message: start line, headers, blank line and body.
    public let maxMessageBytes: Int

    public init(maxMessageBytes: Int = 64 * 1024) {
        self.maxMessageBytes = maxMessageBytes
    }

    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let dollar: UInt8 = 0x24

    /// The item at the front of `input` and the bytes it used (blank lines skipped before it
    /// included); `consumed` is 0 for `.needMore` and `.invalid`.
    public func next(_ input: UnsafeRawBufferPointer) -> (item: RTSPStreamItem, consumed: Int) {
        let n = input.count
        var start = 0
        while start < n && (input[start] == Self.cr || input[start] == Self.lf) { start += 1 }
        if start == n {
            // Only line ends so far. Keep them (consumed stays 0 for needMore), but a peer that
            // sends nothing else for longer than a message may be is not an RTSP peer.
            return start > maxMessageBytes ? (.invalid("\(start) bytes of blank lines"), 0) : (.needMore, 0)
        }
        if input[start] == Self.dollar {
            guard n - start >= 4 else { return (.needMore, 0) }
            let channel = input[start + 1]
            let length = Int(input[start + 2]) << 8 | Int(input[start + 3])
            let end = start + 4 + length
            guard end <= n else { return (.needMore, 0) }
            return (.interleaved(channel: channel, payload: (start + 4)..<end), end)
        }
        return message(input, from: start)
    }

    /// Convenience for byte arrays (tests, small callers).
    public func next(_ input: [UInt8]) -> (item: RTSPStreamItem, consumed: Int) {
        input.withUnsafeBytes { next($0) }
    }

    /// A request or response starting at `start` (not a line end, not `$`).
    private func message(_ input: UnsafeRawBufferPointer, from start: Int) -> (item: RTSPStreamItem, consumed: Int) {
        let n = input.count
        // Lines as (from, to) with the line end (LF, and a CR before it) excluded.
        var lines: [(Int, Int)] = []
        var lineStart = start
        var headerEnd = -1  // index after the blank line's LF
        var i = start
        while i < n {
            if input[i] == Self.lf {
                var to = i
                if to > lineStart && input[to - 1] == Self.cr { to -= 1 }
                if to == lineStart {
                    headerEnd = i + 1
                    break
                }
                lines.append((lineStart, to))
                if lines.count == 1, let why = Self.startLineProblem(input, lineStart, to) {
                    // No need to wait for the rest of something that is not RTSP.
                    return (.invalid(why), 0)
                }
                lineStart = i + 1
            }
            i += 1
            if i - start > maxMessageBytes {
                return (.invalid("header section over \(maxMessageBytes) bytes"), 0)
            }
        }
        guard headerEnd >= 0 else {
            // The start line may still be arriving; reject it as soon as what we have is not
            // a prefix of any valid one, so binary garbage fails before 64 KiB of it arrive.
            if lines.isEmpty, let why = Self.partialStartLineProblem(input, start, n) { return (.invalid(why), 0) }
            return (.needMore, 0)
        }

        let startLine: RTSPMessage.StartLine
        switch Self.parseStartLine(input, lines[0].0, lines[0].1) {
        case .success(let s): startLine = s
        case .failure(let e): return (.invalid(e.why), 0)
        }

        var headers: [(name: String, value: String)] = []
        var previousWasHeader = false
        for (from, to) in lines.dropFirst() {
            let first = input[from]
            if (first == 0x20 || first == 0x09) && previousWasHeader {
                // Folded continuation (RFC 2326 §4.2 LWS): one space joins it to the value above.
                let more = Self.trimmed(input, from, to)
                if !more.isEmpty { headers[headers.count - 1].value += " " + more }
                continue
            }
            guard let colon = Self.firstIndex(of: 0x3A, in: input, from, to) else {
                previousWasHeader = false
                continue
            }
            let name = Self.trimmed(input, from, colon)
            guard !name.isEmpty else { previousWasHeader = false; continue }
            headers.append((name: name, value: Self.trimmed(input, colon + 1, to)))
            previousWasHeader = true
        }

        var contentLength = 0
        var sawLength = false
        for h in headers where RTSPMessage.sameName(h.name, "Content-Length") {
            guard let v = Self.decimal(h.value, limit: maxMessageBytes) else {
                if Self.isDigits(h.value) { return (.invalid("message over \(maxMessageBytes) bytes"), 0) }
                return (.invalid("bad Content-Length \"\(h.value)\""), 0)
            }
            if sawLength && v != contentLength { return (.invalid("conflicting Content-Length values"), 0) }
            contentLength = v
            sawLength = true
        }
        let end = headerEnd + contentLength
        if end - start > maxMessageBytes { return (.invalid("message over \(maxMessageBytes) bytes"), 0) }
        guard end <= n else { return (.needMore, 0) }

        var message: RTSPMessage
        switch startLine {
        case .request(let method, let uri): message = RTSPMessage(request: method, uri: uri)
        case .response(let status, let reason): message = RTSPMessage(response: status, reason: reason)
        }
        message.headers = headers
        message.body = Array(UnsafeRawBufferPointer(rebasing: input[headerEnd..<end]))
        return (.message(message), end)
    }

    struct StartLineError: Error { let why: String }

    /// How an `.invalid` reason starts for a request of another RTSP version (a server
    /// answers it with 505, not 400).
    public static let unsupportedVersion = "unsupported RTSP version"

    /// Request: `METHOD SP URI SP RTSP/1.x`. Response: `RTSP/1.x SP ddd [SP reason]`
    /// (reason may be empty or absent; several cameras send `RTSP/1.0 200` alone).
    static func parseStartLine(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Result<RTSPMessage.StartLine, StartLineError> {
        let line = Array(UnsafeRawBufferPointer(rebasing: p[from..<to]))
        let shown = String(decoding: line.prefix(80), as: UTF8.self)
        for c in line where c < 0x20 && c != 0x09 || c == 0x7F {
            return .failure(StartLineError(why: "control character in start line \"\(shown)\""))
        }
        if line.count >= 8 && isVersion(line[0..<8]) {
            // Response.
            guard line.count >= 12, line[8] == 0x20,
                  line[9...11].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  line.count == 12 || line[12] == 0x20 else {
                return .failure(StartLineError(why: "bad status line \"\(shown)\""))
            }
            let status = line[9...11].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            let reason = line.count > 13 ? String(decoding: line[13...], as: UTF8.self) : ""
            return .success(.response(status: status, reason: trimmedString(reason)))
        }
        // Request: exactly three space-separated parts (runs of spaces between them tolerated,
        // not before the method: a line starting with a space is a folded header, not a request).
        guard let first = line.first, first != 0x20, first != 0x09 else {
            return .failure(StartLineError(why: "bad request line \"\(shown)\""))
        }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: true)
        if parts.count == 3, parts[2].starts(with: Array("RTSP/".utf8)), !isVersion(parts[2]) {
            return .failure(StartLineError(why: RTSPStreamParser.unsupportedVersion + " \"\(shown)\""))
        }
        guard parts.count == 3, parts[2].count == 8, isVersion(parts[2]),
              parts[0].allSatisfy(isTokenByte) else {
            return .failure(StartLineError(why: "bad request line \"\(shown)\""))
        }
        return .success(.request(method: String(decoding: parts[0], as: UTF8.self),
                                 uri: String(decoding: parts[1], as: UTF8.self)))
    }

    /// Checks an unfinished first line: a response must start with `RTSP/1.`, a request with
    /// a method token; anything with a control byte (binary) or too long is not RTSP.
    static func partialStartLineProblem(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String? {
        let version = Array("RTSP/1.".utf8)
        var i = from
        var prefixOfVersion = true
        var inMethod = true
        while i < to {
            let c = p[i]
            if c == cr && i == to - 1 { break }  // CR of a CRLF still coming
            if c < 0x20 && c != 0x09 || c == 0x7F { return "binary data where an RTSP message should start" }
            let k = i - from
            if prefixOfVersion && (k >= version.count || c != version[k]) { prefixOfVersion = false }
            if inMethod {
                if c == 0x20 {
                    inMethod = false
                    if k == 0 { return "start line begins with a space" }
                } else if !isTokenByte(c) && !prefixOfVersion {
                    return "bad request method"
                }
            }
            i += 1
        }
        return nil
    }

    static func startLineProblem(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String? {
        if case .failure(let e) = parseStartLine(p, from, to) { return e.why }
        return nil
    }

    /// `RTSP/1.x` with a digit for x.
    static func isVersion(_ b: some Collection<UInt8>) -> Bool {
        guard b.count == 8 else { return false }
        var it = b.makeIterator()
        for expected in "RTSP/1.".utf8 where it.next() != expected { return false }
        guard let d = it.next() else { return false }
        return d >= 0x30 && d <= 0x39
    }

    /// RFC 2326 §15.1 token: visible ASCII except separators.
    static func isTokenByte(_ c: UInt8) -> Bool {
        guard c > 0x20 && c < 0x7F else { return false }
        switch c {
        case 0x28, 0x29, 0x3C, 0x3E, 0x40, 0x2C, 0x3B, 0x3A, 0x5C, 0x22, 0x2F, 0x5B, 0x5D, 0x3F, 0x3D, 0x7B, 0x7D:
            return false
        default:
            return true
        }
    }

    static func firstIndex(of byte: UInt8, in p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Int? {
        var i = from
        while i < to {
            if p[i] == byte { return i }
            i += 1
        }
        return nil
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    static func trimmed(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String {
        var a = from, b = to
        while a < b && isSpace(p[a]) { a += 1 }
        while b > a && isSpace(p[b - 1]) { b -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: p[a..<b]), as: UTF8.self)
    }

    static func trimmedString(_ s: String) -> String {
        var u = Substring(s).utf8
        while let f = u.first, isSpace(f) { u = u.dropFirst() }
        while let l = u.last, isSpace(l) { u = u.dropLast() }
        return String(Substring(u))
    }

    static func isDigits(_ s: String) -> Bool {
        !s.utf8.isEmpty && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Digits only, value at most `limit`; nil for anything else (signs, spaces, overflow).
    static func decimal(_ s: String, limit: Int) -> Int? {
        guard isDigits(s) else { return nil }
        var v = 0
        for c in s.utf8 {
            v = v * 10 + Int(c - 0x30)
            if v > limit { return nil }
        }
        return v
    }
}
