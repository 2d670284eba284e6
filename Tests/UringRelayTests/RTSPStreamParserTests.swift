import Testing
@testable import UringRelay

@Suite struct RTSPStreamParserTests {
    /// An item with the interleaved payload copied out, so runs over different splits compare.
    enum Event: Equatable {
        case message(RTSPMessage)
        case frame(UInt8, [UInt8])
        case invalid(String)
    }

    /// Feeds `stream` in the given chunk sizes the way a connection would: unconsumed bytes
    /// stay at the front of the buffer and the parser is asked again after every arrival.
    static func run(_ stream: [UInt8], chunks: [Int], parser: RTSPStreamParser = RTSPStreamParser()) -> [Event] {
        var buffer: [UInt8] = []
        var events: [Event] = []
        var offset = 0
        var k = 0
        while offset < stream.count {
            let size = max(1, min(chunks.isEmpty ? stream.count : chunks[k % chunks.count], stream.count - offset))
            k += 1
            buffer += stream[offset..<(offset + size)]
            offset += size
            while true {
                let (item, consumed) = parser.next(buffer)
                switch item {
                case .needMore:
                    #expect(consumed == 0)
                case .invalid(let why):
                    #expect(consumed == 0)
                    events.append(.invalid(why))
                    return events
                case .message(let m):
                    events.append(.message(m))
                case .interleaved(let channel, let payload):
                    events.append(.frame(channel, Array(buffer[payload])))
                }
                if consumed == 0 { break }
                buffer.removeFirst(consumed)
            }
        }
        return events
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func frame(_ channel: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x24, channel, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
    }

    @Test func parsesARequest() throws {
        let text = "DESCRIBE rtsp://198.51.100.7:554/live RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"
        let (item, consumed) = RTSPStreamParser().next(Self.bytes(text))
        #expect(consumed == text.utf8.count)
        #expect(item == .message(RTSPMessage(request: "DESCRIBE", uri: "rtsp://198.51.100.7:554/live",
                                             headers: [("CSeq", "2"), ("Accept", "application/sdp")])))
    }

    @Test func waitsForTheBodyThenParsesAResponse() {
        let head = "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 10\r\n\r\n"
        let parser = RTSPStreamParser()
        #expect(parser.next(Self.bytes(head + "v=0\r\n")).item == .needMore)
        let (item, consumed) = parser.next(Self.bytes(head + "v=0\r\no=-\r\nEXTRA"))
        #expect(consumed == head.utf8.count + 10)
        #expect(item == .message(RTSPMessage(response: 200, reason: "OK", headers: [("CSeq", "2"), ("Content-Length", "10")],
                                             body: Self.bytes("v=0\r\no=-\r\n"))))
    }

    @Test func toleratesLFOnlyCaseAndSpacesAndLinesWithoutColon() {
        let text = "RTSP/1.0 200 OK\ncseq:   5  \nGarbage line here\n  : empty name\nSESSION:12345678;timeout=30\n\n"
        let (item, consumed) = RTSPStreamParser().next(Self.bytes(text))
        #expect(consumed == text.utf8.count)
        guard case .message(let m) = item else { Issue.record("\(item)"); return }
        #expect(m.cseq == "5")
        #expect(m.header("session") == "12345678;timeout=30")
        #expect(m.headers.count == 2)
    }

    @Test func joinsFoldedContinuationLines() {
        let text = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE,\r\n  SETUP, PLAY\r\n\r\n"
        guard case .message(let m) = RTSPStreamParser().next(Self.bytes(text)).item else { Issue.record("not a message"); return }
        #expect(m.header("Public") == "OPTIONS, DESCRIBE, SETUP, PLAY")
    }

    static let responseLines: [(String, Int, String)] = [
        ("RTSP/1.0 200 OK", 200, "OK"),
        ("RTSP/1.0 200", 200, ""),
        ("RTSP/1.0 200 ", 200, ""),
        ("RTSP/1.0 401 Unauthorized", 401, "Unauthorized"),
        ("RTSP/1.0 461 Unsupported Transport", 461, "Unsupported Transport"),
        ("RTSP/1.1 503 Service Unavailable", 503, "Service Unavailable"),
    ]

    @Test(arguments: responseLines)
    func acceptsStatusLines(_ line: String, _ status: Int, _ reason: String) {
        let (item, _) = RTSPStreamParser().next(Self.bytes(line + "\r\nCSeq: 1\r\n\r\n"))
        #expect(item == .message(RTSPMessage(response: status, reason: reason, headers: [("CSeq", "1")])), "\(line)")
    }

    static let badStartLines: [String] = [
        "HTTP/1.1 200 OK",
        "RTSP/1.0 20 OK",
        "RTSP/1.0 2000 OK",
        "RTSP/1.0 abc OK",
        "RTSP/1.0",
        "RTSP/2.0 200 OK",
        "OPTIONS * HTTP/1.1",
        "OPTIONS *",
        "OPTIONS  RTSP/1.0",
        "OPTIONS * RTSP/1.0 extra",
        "GET / HTTP/1.0",
        "OPT(ONS * RTSP/1.0",
        " OPTIONS * RTSP/1.0",
        "OPTIONS * RTSP/1.x",
    ]

    @Test(arguments: badStartLines)
    func rejectsBadStartLines(_ line: String) {
        let (item, consumed) = RTSPStreamParser().next(Self.bytes(line + "\r\nCSeq: 1\r\n\r\n"))
        guard case .invalid = item else { Issue.record("\(line): \(item)"); return }
        #expect(consumed == 0)
    }

    @Test func rejectsABadStartLineWithoutWaitingForTheHeaders() {
        guard case .invalid = RTSPStreamParser().next(Self.bytes("GET / HTTP/1.1\r\nHost: x\r\n")).item else {
            Issue.record("waited"); return
        }
        guard case .invalid = RTSPStreamParser().next([0x16, 0x03, 0x01, 0x02, 0x00]).item else {
            Issue.record("a TLS hello was waited for"); return
        }
    }

    static let badLengths = ["abc", "-1", "+5", "1 0", "", "0x10", "99999999999999999999999"]

    @Test(arguments: badLengths)
    func rejectsBadContentLength(_ value: String) {
        let (item, _) = RTSPStreamParser().next(Self.bytes("ANNOUNCE rtsp://h/cam RTSP/1.0\r\nCSeq: 1\r\nContent-Length: \(value)\r\n\r\nv=0"))
        guard case .invalid = item else { Issue.record("\(value): \(item)"); return }
    }

    @Test func rejectsConflictingContentLengths() {
        let text = "ANNOUNCE rtsp://h/cam RTSP/1.0\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
        guard case .invalid = RTSPStreamParser().next(Self.bytes(text)).item else { Issue.record("accepted"); return }
        let same = "ANNOUNCE rtsp://h/cam RTSP/1.0\r\nContent-Length: 4\r\ncontent-length: 4\r\n\r\nabcd"
        guard case .message = RTSPStreamParser().next(Self.bytes(same)).item else { Issue.record("rejected"); return }
    }

    @Test func limitsTheWholeMessage() {
        let parser = RTSPStreamParser(maxMessageBytes: 100)
        let head = "ANNOUNCE rtsp://h/cam RTSP/1.0\r\nContent-Length: 60\r\n\r\n"  // 54 bytes
        // Rejected as soon as the length is known, before the body arrives.
        guard case .invalid = parser.next(Self.bytes(head)).item else { Issue.record("waited for an oversized body"); return }
        let fits = "ANNOUNCE rtsp://h/cam RTSP/1.0\r\nContent-Length: 46\r\n\r\n"
        #expect(parser.next(Self.bytes(fits)).item == .needMore)
        guard case .message = parser.next(Self.bytes(fits) + [UInt8](repeating: 0x41, count: 46)).item else {
            Issue.record("rejected a message of exactly the limit"); return
        }
    }

    @Test func doesNotWaitForeverForTheBlankLine() {
        let parser = RTSPStreamParser(maxMessageBytes: 200)
        var text = "OPTIONS * RTSP/1.0\r\n"
        while text.utf8.count <= 200 { text += "X-Filler: 0123456789\r\n" }
        guard case .invalid = parser.next(Self.bytes(text)).item else { Issue.record("kept waiting"); return }
        #expect(parser.next(Self.bytes("OPTIONS * RTSP/1.0\r\nX: 1\r\n")).item == .needMore)
        // A start line that never ends is cut off too.
        guard case .invalid = parser.next([UInt8](repeating: 0x41, count: 201)).item else { Issue.record("kept waiting"); return }
    }

    @Test func skipsBlankLinesBetweenMessages() {
        let text = "\r\n\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
        let (item, consumed) = RTSPStreamParser().next(Self.bytes(text))
        #expect(consumed == text.utf8.count)
        #expect(item == .message(RTSPMessage(request: "OPTIONS", uri: "*", headers: [("CSeq", "1")])))
        #expect(RTSPStreamParser().next(Self.bytes("\r\n\r\n")) == (.needMore, 0))
    }

    @Test func parsesInterleavedFrames() {
        let parser = RTSPStreamParser()
        #expect(parser.next([0x24]) == (.needMore, 0))
        #expect(parser.next([0x24, 0, 0]) == (.needMore, 0))
        #expect(parser.next([0x24, 1, 0, 0]) == (.interleaved(channel: 1, payload: 4..<4), 4))
        #expect(parser.next([0x24, 0, 0, 3, 9, 9]) == (.needMore, 0))
        #expect(parser.next([0x24, 0, 0, 3, 9, 9, 9, 0x24]) == (.interleaved(channel: 0, payload: 4..<7), 7))
        // A camera that sends a whole 2301-byte NAL in one RTP packet, and the 16-bit maximum.
        for size in [2301, 65535] {
            let f = Self.frame(2, [UInt8](repeating: 0x80, count: size))
            #expect(parser.next(f) == (.interleaved(channel: 2, payload: 4..<(4 + size)), 4 + size))
            #expect(parser.next(Array(f.dropLast())) == (.needMore, 0))
        }
    }

    @Test func payloadRangesIndexTheInputOfThatCall() {
        let stream = Self.bytes("\r\n") + Self.frame(3, [7, 8, 9])
        stream.withUnsafeBytes { all in
            let rest = UnsafeRawBufferPointer(rebasing: all[0...])
            let (item, consumed) = RTSPStreamParser().next(rest)
            #expect(item == .interleaved(channel: 3, payload: 6..<9))
            #expect(consumed == 9)
        }
    }

    static let mixed: [UInt8] =
        bytes("RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 12345678;timeout=60\r\n\r\n")
        + frame(0, [0x80, 0x60, 1, 2, 3])
        + frame(1, [])
        + bytes("\r\n")
        + frame(0, [UInt8](repeating: 0x42, count: 2301))
        + bytes("GET_PARAMETER rtsp://198.51.100.7/live RTSP/1.0\nCSeq: 5\nContent-Length: 4\n\nabcd")
        + frame(1, [0x81, 0xC9, 0, 1])
        + bytes("SET_PARAMETER rtsp://198.51.100.7/live RTSP/1.0\r\nCSeq: 6\r\nSession: 12345678\r\n\r\n")

    static let mixedEvents: [Event] = [
        .message(RTSPMessage(response: 200, reason: "OK", headers: [("CSeq", "4"), ("Session", "12345678;timeout=60")])),
        .frame(0, [0x80, 0x60, 1, 2, 3]),
        .frame(1, []),
        .frame(0, [UInt8](repeating: 0x42, count: 2301)),
        .message(RTSPMessage(request: "GET_PARAMETER", uri: "rtsp://198.51.100.7/live",
                             headers: [("CSeq", "5"), ("Content-Length", "4")], body: bytes("abcd"))),
        .frame(1, [0x81, 0xC9, 0, 1]),
        .message(RTSPMessage(request: "SET_PARAMETER", uri: "rtsp://198.51.100.7/live",
                             headers: [("CSeq", "6"), ("Session", "12345678")])),
    ]

    @Test func sameItemsAllAtOnceByteByByteAndAtRandomSplits() {
        #expect(Self.run(Self.mixed, chunks: []) == Self.mixedEvents)
        #expect(Self.run(Self.mixed, chunks: [1]) == Self.mixedEvents)
        var rng = SplitMix64(seed: 0x5254_5350)
        for _ in 0..<200 {
            let chunks = (0..<8).map { _ in Int.random(in: 1...700, using: &rng) }
            #expect(Self.run(Self.mixed, chunks: chunks) == Self.mixedEvents, "\(chunks)")
        }
    }

    @Test func invalidInputIsReportedTheSameAtEverySplit() {
        let stream = Self.frame(0, [1, 2]) + Self.bytes("HTTP/1.1 200 OK\r\n\r\n")
        let whole = Self.run(stream, chunks: [])
        #expect(whole.count == 2)
        guard case .invalid = whole.last else { Issue.record("\(whole)"); return }
        for size in 1...stream.count {
            let events = Self.run(stream, chunks: [size])
            #expect(events.count == 2 && events.first == .frame(0, [1, 2]), "\(size)")
            guard case .invalid = events.last else { Issue.record("\(size): \(events)"); continue }
        }
    }

    @Test func randomBytesNeverCrashOrOverConsume() {
        // Mutated copies of a valid stream: each call either waits, fails, or consumes
        // within the input, and interleaved ranges stay inside it.
        var rng = SplitMix64(seed: 0xF022)
        for _ in 0..<500 {
            var bytes = Self.mixed
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            var rest = bytes[...]
            while !rest.isEmpty {
                let (item, consumed) = RTSPStreamParser(maxMessageBytes: 4096).next(Array(rest))
                #expect(consumed >= 0 && consumed <= rest.count)
                if case .interleaved(_, let payload) = item { #expect(payload.upperBound <= consumed) }
                if consumed == 0 { break }
                rest = rest.dropFirst(consumed)
            }
        }
    }
}
