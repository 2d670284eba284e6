import Testing
@testable import UringRelay

@Suite struct SMTPCommandLineReaderTests {
    typealias Event = SMTPCommandLineReader.Event

    /// An event and the absolute stream offset just past the line that produced it.
    struct Positioned: Equatable, CustomStringConvertible {
        var event: Event
        var end: Int
        var description: String { "\(event)@\(end)" }
    }

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func line(_ s: String) -> Event { .line(Array(s.utf8)) }

    /// Feeds `input` in the given chunk sizes, looping `next` within each chunk as a server would.
    static func run(_ input: [UInt8], chunks: [Int]) -> (events: [Positioned], buffered: Int) {
        var reader = SMTPCommandLineReader()
        var out: [Positioned] = []
        var chunkStart = 0
        for size in chunks {
            let chunk = input[chunkStart..<(chunkStart + size)]
            var offset = chunk.startIndex
            while offset < chunk.endIndex {
                let r = reader.next(chunk[offset...])
                #expect(r.consumed > 0 && r.consumed <= chunk.endIndex - offset)
                offset += r.consumed
                if let e = r.event { out.append(Positioned(event: e, end: offset)) }
                #expect(reader.bufferedCount < SMTPCommandLineReader.maximumLineLength)
            }
            chunkStart += size
        }
        return (out, reader.bufferedCount)
    }

    static func allAtOnce(_ input: [UInt8]) -> (events: [Positioned], buffered: Int) {
        run(input, chunks: input.isEmpty ? [] : [input.count])
    }

    static func byteByByte(_ input: [UInt8]) -> (events: [Positioned], buffered: Int) {
        run(input, chunks: Array(repeating: 1, count: input.count))
    }

    static func randomSplits(_ input: [UInt8], seed: UInt64) -> (events: [Positioned], buffered: Int) {
        var rng = SMTPSplitRNG(seed: seed)
        var chunks: [Int] = []
        var left = input.count
        while left > 0 {
            let n = Int.random(in: 1...min(left, 700), using: &rng)
            chunks.append(n)
            left -= n
        }
        return run(input, chunks: chunks)
    }

    /// A simple non-resumable model of the rules, to check the reader against.
    static func reference(_ input: [UInt8]) -> [Positioned] {
        var out: [Positioned] = []
        var start = 0
        for (i, byte) in input.enumerated() where byte == 10 {
            let segment = input[start...i]  // includes LF
            let event: Event
            if segment.count > 512 {
                event = .tooLong
            } else if segment.count < 2 || segment[i - 1] != 13 || segment.dropLast(2).contains(13) {
                event = .bareLineEnding
            } else {
                event = .line(Array(segment.dropLast(2)))
            }
            out.append(Positioned(event: event, end: i + 1))
            start = i + 1
        }
        return out
    }

    static let a510 = String(repeating: "A", count: 510)
    static let a511 = String(repeating: "A", count: 511)
    static let a600 = String(repeating: "A", count: 600)

    static let cases: [(String, [UInt8], [Event])] = [
        ("two commands", b("EHLO a\r\nMAIL FROM:<a@b>\r\n"), [line("EHLO a"), line("MAIL FROM:<a@b>")]),
        ("empty line", b("\r\n"), [line("")]),
        ("510 + CRLF is the limit", b(a510 + "\r\nQUIT\r\n"), [line(a510), line("QUIT")]),
        ("511 + CRLF is too long", b(a511 + "\r\nQUIT\r\n"), [.tooLong, line("QUIT")]),
        ("over-long then a command", b(a600 + "\r\nNOOP\r\n"), [.tooLong, line("NOOP")]),
        ("over-long with bare LF inside", b(a600 + "\nQUIT\r\n"), [.tooLong, line("QUIT")]),
        ("over-long with bare CR", b(String(repeating: "A\r", count: 300) + "\r\nQUIT\r\n"), [.tooLong, line("QUIT")]),
        ("bare LF", b("NOOP\nRSET\r\n"), [.bareLineEnding, line("RSET")]),
        ("bare LF alone", b("\nRSET\r\n"), [.bareLineEnding, line("RSET")]),
        ("bare CR in the middle", b("NO\rOP\r\nRSET\r\n"), [.bareLineEnding, line("RSET")]),
        ("CR CR LF", b("NOOP\r\r\nRSET\r\n"), [.bareLineEnding, line("RSET")]),
        ("bare CR runs to the next LF", b("NOOP\r\rRSET\r\nQUIT\r\n"), [.bareLineEnding, line("QUIT")]),
        ("LF CR LF", b("NOOP\n\r\nQUIT\r\n"), [.bareLineEnding, line(""), line("QUIT")]),
        ("NUL is passed to the parser", [0x4E, 0x00, 0x0D, 0x0A], [.line([0x4E, 0x00])]),
        ("UTF-8 passes", b("RCPT TO:<用户@例子.广告>\r\n"), [line("RCPT TO:<用户@例子.广告>")]),
        ("partial line kept", b("QUIT\r\nNOO"), [line("QUIT")]),
        ("smuggling-style bytes as commands", b("\n.\nMAIL FROM:<s@example.org>\r\n"),
         [.bareLineEnding, .bareLineEnding, line("MAIL FROM:<s@example.org>")]),
    ]

    @Test(arguments: cases.indices)
    func table(_ index: Int) {
        let (name, input, expected) = Self.cases[index]
        let whole = Self.allAtOnce(input)
        #expect(whole.events.map(\.event) == expected, "\(name)")
        #expect(whole.events == Self.reference(input), "\(name)")
        #expect(Self.byteByByte(input).events == whole.events, "\(name)")
        #expect(Self.byteByByte(input).buffered == whole.buffered, "\(name)")
        for seed in UInt64(1)...20 {
            let split = Self.randomSplits(input, seed: seed)
            #expect(split.events == whole.events, "\(name) seed \(seed)")
            #expect(split.buffered == whole.buffered, "\(name) seed \(seed)")
        }
    }

    @Test func everyCaseConcatenatedSplitAnywhere() {
        let input = Self.cases.flatMap { $0.1.last == 10 ? $0.1 : $0.1 + Self.b("\r\n") }
        let whole = Self.allAtOnce(input)
        #expect(whole.events == Self.reference(input))
        #expect(Self.byteByByte(input).events == whole.events)
        for seed in UInt64(100)...199 {
            #expect(Self.randomSplits(input, seed: seed).events == whole.events, "seed \(seed)")
        }
    }

    /// Random streams over a small alphabet that makes CR, LF and long lines common.
    @Test func randomStreamsMatchTheModel() {
        var rng = SMTPSplitRNG(seed: 0x5317_0001)
        let alphabet: [UInt8] = [65, 66, 32, 13, 10, 13, 10, 0]
        for round in 0..<200 {
            let length = Int.random(in: 0...3000, using: &rng)
            var input: [UInt8] = []
            input.reserveCapacity(length)
            let longRun = Int.random(in: 0...4, using: &rng) == 0
            for _ in 0..<length {
                if longRun {
                    input.append(Int.random(in: 0..<400, using: &rng) == 0 ? 10 : 65)
                } else {
                    input.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)])
                }
            }
            let expected = Self.reference(input)
            let whole = Self.allAtOnce(input)
            #expect(whole.events == expected, "round \(round)")
            #expect(Self.byteByByte(input).events == expected, "round \(round)")
            #expect(Self.randomSplits(input, seed: UInt64(round)).events == expected, "round \(round)")
        }
    }

    @Test func consumedStopsRightAfterTheLine() {
        var reader = SMTPCommandLineReader()
        let input = Self.b("DATA\r\nSubject: x\r\n")
        let r = reader.next(input)
        #expect(r.event == Self.line("DATA"))
        #expect(r.consumed == 6)
        #expect(!reader.isInsideLine)
        #expect(reader.bufferedCount == 0)
    }

    @Test func endlessLineHoldsAtMost511Bytes() {
        var reader = SMTPCommandLineReader()
        let chunk = [UInt8](repeating: 65, count: 4096)
        for _ in 0..<25 {
            let r = reader.next(chunk)
            #expect(r.event == nil)
            #expect(r.consumed == chunk.count)
            #expect(reader.bufferedCount <= 511)
            #expect(reader.isInsideLine)
        }
        #expect(reader.next(Self.b("\r\nQUIT\r\n")) == (Event.tooLong, 2))
        #expect(reader.next(Self.b("QUIT\r\n")) == (Self.line("QUIT"), 6))
    }

    @Test func longLineSplitAtTheLimit() {
        // 510 bytes held, then CR, then LF in separate calls: still exactly at the limit.
        var reader = SMTPCommandLineReader()
        #expect(reader.next(Self.b(Self.a510)).event == nil)
        #expect(reader.bufferedCount == 510)
        #expect(reader.next(Self.b("\r")).event == nil)
        #expect(reader.bufferedCount == 511)
        #expect(reader.next(Self.b("\n")) == (Self.line(Self.a510), 1))
    }

    @Test func resetDropsThePartialLine() {
        var reader = SMTPCommandLineReader()
        _ = reader.next(Self.b("NOO"))
        reader.reset()
        #expect(reader.next(Self.b("QUIT\r\n")) == (Self.line("QUIT"), 6))
    }

    @Test func unsafeRawBufferEntryPoint() {
        var reader = SMTPCommandLineReader()
        let input = Self.b("NOOP\r\nQUIT\r\n")
        let r = input.withUnsafeBytes { reader.next($0) }
        #expect(r == (Self.line("NOOP"), 6))
    }

    /// cases/smtp.md: pipelined MAIL, RCPT, DATA; the bytes after DATA are not read as commands.
    @Test func pipelinedDataLeavesTheBodyUnread() throws {
        let input = Self.b("MAIL FROM:<a@example.org>\r\nRCPT TO:<x@blocked.example>\r\nDATA\r\nRSET\r\nQUIT\r\n")
        var reader = SMTPCommandLineReader()
        var offset = 0
        var commands: [SMTPCommand] = []
        while offset < input.count {
            let r = reader.next(input[offset...])
            offset += r.consumed
            guard case .line(let l) = r.event else { continue }
            let command = try SMTPCommandParser.parse(l).get()
            commands.append(command)
            if command == .data { break }
        }
        #expect(commands.count == 3)
        #expect(Array(input[offset...]) == Self.b("RSET\r\nQUIT\r\n"))
    }

    /// cases/smtp.md: `BDAT 9 LAST\r\nMAIL FROM` — exactly 9 octets follow, then commands resume.
    @Test func bdatChunkThenCommandsResume() throws {
        let input = Self.b("BDAT 9 LAST\r\nMAIL FROMQUIT\r\n")
        var reader = SMTPCommandLineReader()
        let first = reader.next(input)
        guard case .line(let l) = first.event else { Issue.record("no line"); return }
        #expect(try SMTPCommandParser.parse(l).get() == .bdat(size: 9, last: true))
        let afterChunk = first.consumed + 9
        #expect(Array(input[first.consumed..<afterChunk]) == Self.b("MAIL FROM"))
        let next = reader.next(input[afterChunk...])
        #expect(next.event == Self.line("QUIT"))
    }
}
