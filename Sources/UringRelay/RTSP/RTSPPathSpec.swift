/// One `--path NAME=…` of `uring-relay rtsp`: a stream readers ask for by name, and where it
/// comes from.
public struct RTSPPathSpec: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// Pulled from a camera or another relay. `always`: connected from start-up, not only
        /// while somebody watches.
        case pull(RTSPURL, always: Bool)
        /// Pushed to us with ANNOUNCE/RECORD.
        case publish
    }

    /// The name in the readers' URL, without slashes at either end ("cam1", "site/cam1").
    public var name: String
    public var source: Source

    public init(name: String, source: Source) {
        self.name = name
        self.source = source
    }

    /// Parses `NAME=rtsp://…`, `NAME=always:rtsp://…` or `NAME=publish`.
    public static func parse(_ text: String) -> Result<RTSPPathSpec, RTSPPathSpecError> {
        guard let eq = text.firstIndex(of: "=") else {
            return .failure(RTSPPathSpecError("\"\(text)\" is not NAME=rtsp://…, NAME=always:rtsp://… or NAME=publish"))
        }
        var name = Substring(text[..<eq])
        while name.hasPrefix("/") { name.removeFirst() }
        while name.hasSuffix("/") { name.removeLast() }
        guard !name.isEmpty, name.utf8.allSatisfy(isPathByte), !name.contains("//"),
              !name.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
            return .failure(RTSPPathSpecError("path name \"\(text[..<eq])\" must be letters, digits and - _ . ~ / (no empty, . or .. segments)"))
        }
        if let last = name.split(separator: "/").last, RTSPURL.pathAndTrack(ofRequestURI: "/x/" + last)?.track != nil {
            return .failure(RTSPPathSpecError("path name \"\(name)\" ends like a track control (trackID=N); readers' SETUP would be ambiguous"))
        }
        var value = Substring(text[text.index(after: eq)...])
        if value == "publish" { return .success(RTSPPathSpec(name: String(name), source: .publish)) }
        var always = false
        if value.hasPrefix("always:") {
            always = true
            value = value.dropFirst("always:".count)
        }
        if value.hasPrefix("rtsps://") {
            return .failure(RTSPPathSpecError("\(name): rtsps (RTSP over TLS) is not supported"))
        }
        guard let url = RTSPURL.parse(String(value)), url.scheme == "rtsp" else {
            return .failure(RTSPPathSpecError("\(name): \"\(value)\" is not a valid rtsp://[user:pass@]host[:port]/path URL"))
        }
        if let bad = Self.badPercentEscape(in: value) {
            return .failure(RTSPPathSpecError("\(name): \"\(bad)\" in the URL is not a percent escape (write %25 for %)"))
        }
        return .success(RTSPPathSpec(name: String(name), source: .pull(url, always: always)))
    }

    /// The first "%" not followed by two hex digits, if any: URL.parse decodes leniently, but
    /// a mistyped credential should fail at start-up, not as 401s against the camera.
    static func badPercentEscape(in text: Substring) -> String? {
        let b = Array(text.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%") {
                let hex = { (c: UInt8) in (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) }
                guard i + 2 < b.count, hex(b[i + 1]), hex(b[i + 2]) else {
                    return String(decoding: b[i..<min(b.count, i + 3)], as: UTF8.self)
                }
                i += 3
            } else {
                i += 1
            }
        }
        return nil
    }

    private static func isPathByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }
}

/// Why a `--path` value is not one (the message names the value).
public struct RTSPPathSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
