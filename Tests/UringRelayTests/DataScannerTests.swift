import Testing
@testable import UringRelay

@Suite struct DataScannerTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static let modes: [BodyCodecRun.SplitMode] =
        [.whole, .byteByByte] + (1...12).map { .random(UInt64($0) &* 7919) }

    /// Runs a fresh scanner over `input` in every split mode, checks the results agree and the
    /// contract held, and returns the whole-input result.
    static func scanAllWays(
        _ input: [UInt8], max: Int = 1 << 20, policy: BareLinePolicy = .reject,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> BodyCodecRun {
        var first: BodyCodecRun?
        for mode in modes {
            var s = DataScanner(maxMessageBytes: max, bareLineEndings: policy)
            let r = BodyCodecRun.run(&s, input, cuts: BodyCodecRun.cuts(input.count, mode: mode)) {
                $0.scan($1)
            }
            #expect(r.problems.isEmpty, "\(mode): \(r.problems)", sourceLocation: sourceLocation)
            if let first {
                #expect(r == first, "\(mode) differs: \(r) vs \(first)", sourceLocation: sourceLocation)
            } else {
                first = r
            }
        }
        return first!
    }

    /// What the upstream sees must be a clean DATA body: CRLF only, no NUL, no line ".".
    static func expectSafeForUpstream(
        _ out: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (i, b) in out.enumerated() {
            if b == 0 { Issue.record("NUL forwarded at \(i)", sourceLocation: sourceLocation) }
            if b == 13 && i + 1 < out.count && out[i + 1] != 10 {
                Issue.record("bare CR forwarded at \(i)", sourceLocation: sourceLocation)
            }
            if b == 10 && (i == 0 || out[i - 1] != 13) {
                Issue.record("bare LF forwarded at \(i)", sourceLocation: sourceLocation)
            }
        }
        if out.last == 13 { Issue.record("forwarded output ends with CR", sourceLocation: sourceLocation) }
        #expect(
            BodyReference.find(BodyReference.terminator, in: [13, 10] + out) == nil,
            "a line \".\" was forwarded: \(BodyCodecRun.escape(out))", sourceLocation: sourceLocation)
    }

    // MARK: SMTP smuggling (cases/smtp.md)

    static let head = bytes("Subject: a\r\n\r\nbody")
    static let smuggled = bytes(
        "MAIL FROM:<s@example.org>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
    static let after = bytes("QUIT\r\n")

    static let smuggling: [(String, [UInt8], DataViolation, DataViolation?)] = [
        // (name, X, reject-mode violation, normalize-mode violation)
        ("\\n.\\n", bytes("\n.\n"), .bareLF, nil),
        ("\\n.\\r\\n", bytes("\n.\r\n"), .bareLF, nil),
        ("\\r.\\r", bytes("\r.\r"), .bareCR, .bareCR),
        ("\\r.\\n", bytes("\r.\n"), .bareCR, .bareCR),
        ("\\r.\\r\\n", bytes("\r.\r\n"), .bareCR, .bareCR),
        ("\\n.\\r", bytes("\n.\r"), .bareLF, .bareCR),
        ("\\r\\n\\0.\\r\\n", [13, 10, 0, 46, 13, 10], .nul, .nul),
        // More of the same kind.
        ("\\n\\n.\\n", bytes("\n\n.\n"), .bareLF, nil),
        ("\\r\\n.\\n", bytes("\r\n.\n"), .bareLF, nil),
        ("\\r\\n.\\r", bytes("\r\n.\r"), .bareCR, .bareCR),
        ("\\r\\n.\\0\\r\\n", [13, 10, 46, 0, 13, 10], .nul, .nul),
        ("\\n\\r.\\r\\n", bytes("\n\r.\r\n"), .bareLF, .bareCR),
        ("\\n\\r\\n.\\n", bytes("\n\r\n.\n"), .bareLF, nil),
        ("\\r\\n \\r\\n.\\r\\n followed", bytes("\r\n.\r\r\n"), .bareCR, .bareCR),
    ]

    @Test(arguments: smuggling.indices)
    func smugglingDoesNotEndTheMessage(_ index: Int) {
        let (name, x, rejectReason, normalizeReason) = Self.smuggling[index]
        let input = Self.head + x + Self.smuggled + Self.after
        let realEnd = Self.head.count + x.count + Self.smuggled.count
        for (policy, reason) in [(BareLinePolicy.reject, Optional(rejectReason)), (.normalize, normalizeReason)] {
            let r = Self.scanAllWays(input, policy: policy)
            #expect(r.ended, "\(name) \(policy)")
            #expect(r.consumed == realEnd, "\(name) \(policy): ended at \(r.consumed), not \(realEnd)")
            #expect(r.violation == reason, "\(name) \(policy): \(r)")
            Self.expectSafeForUpstream(r.forwarded)
            if reason != nil {
                // Nothing past the offending byte is forwarded.
                #expect((Self.head + x).starts(with: r.forwarded) || policy == .normalize,
                        "\(name) \(policy): \(BodyCodecRun.escape(r.forwarded))")
                #expect(BodyReference.find(Self.bytes("MAIL FROM"), in: r.forwarded) == nil)
            } else {
                // Normalized: one message, the smuggled commands are body text of it.
                #expect(r.forwarded.suffix(2) == [13, 10])
                #expect(BodyReference.find(Self.bytes("\r\n..\r\nMAIL FROM"), in: r.forwarded) != nil, "\(name): \(BodyCodecRun.escape(r.forwarded))")
            }
        }
    }

    @Test func smugglingNormalizedForms() {
        let r1 = Self.scanAllWays(Self.bytes("a\n.\nb\r\n.\r\n"), policy: .normalize)
        #expect(r1.forwarded == Self.bytes("a\r\n..\r\nb\r\n"))
        #expect(r1.violation == nil && r1.ended)
        let r2 = Self.scanAllWays(Self.bytes("a\n.\r\nb\r\n.\r\n"), policy: .normalize)
        #expect(r2.forwarded == Self.bytes("a\r\n..\r\nb\r\n"))
        let r3 = Self.scanAllWays(Self.bytes("\n.\n.\r\nx\r\n.\r\n"), policy: .normalize)
        #expect(r3.forwarded == Self.bytes("\r\n..\r\n..\r\nx\r\n"))
        #expect(r3.ended && r3.violation == nil && r3.consumed == 12)
        // After a normalized "..\r\n" ended by a real CRLF, ".\r\n" is the end.
        let r4 = Self.scanAllWays(Self.bytes("\n.\r\n.\r\nQUIT\r\n"), policy: .normalize)
        #expect(r4.forwarded == Self.bytes("\r\n..\r\n"))
        #expect(r4.consumed == 7 && r4.ended)
    }

    // MARK: Ordinary bodies

    @Test func plainBodyForwardedVerbatim() {
        let body = Self.bytes("Subject: hi\r\n\r\nline one\r\nline two\r\n")
        let r = Self.scanAllWays(body + Self.bytes(".\r\n"))
        #expect(r.forwarded == body)
        #expect(r.ended && r.violation == nil && r.consumed == body.count + 3)
    }

    @Test func dotStuffedLinesPreserved() {
        let body = Self.bytes("..\r\n...\r\n..x\r\n.y\r\nz.\r\n\r\n..\r\n")
        let r = Self.scanAllWays(body + Self.bytes(".\r\n"))
        #expect(r.forwarded == body)
        #expect(r.ended && r.violation == nil)
    }

    @Test func emptyBody() {
        let r = Self.scanAllWays(Self.bytes(".\r\n"))
        #expect(r.forwarded.isEmpty && r.ended && r.violation == nil && r.consumed == 3)
        let q = Self.scanAllWays(Self.bytes(".\r\nQUIT\r\n"))
        #expect(q.forwarded.isEmpty && q.ended && q.consumed == 3)
    }

    @Test func pipelinedQuitStaysForTheCommandReader() {
        let input = Self.bytes("hello\r\n.\r\nQUIT\r\n")
        let r = Self.scanAllWays(input)
        #expect(r.ended && r.violation == nil)
        #expect(r.consumed == 10)
        #expect(r.forwarded == Self.bytes("hello\r\n"))
        // And in one call with a fresh scanner: consumed stops right after ".\r\n".
        var s = DataScanner(maxMessageBytes: 100)
        let one = input.withUnsafeBytes { s.scan($0) }
        #expect(one.consumed == 10 && one.ended && one.prefix.isEmpty && one.forward == 0..<7)
        #expect(s.isEnded)
        let again = input.withUnsafeBytes { s.scan(UnsafeRawBufferPointer(rebasing: $0[10...])) }
        #expect(again.consumed == 0 && again.ended)
    }

    @Test func heldBytesAtChunkEnds() {
        var s = DataScanner(maxMessageBytes: 100)
        let a = Self.bytes("abc\r")
        let r1 = a.withUnsafeBytes { s.scan($0) }
        #expect(r1.consumed == 4 && r1.forward == 0..<3 && r1.prefix.isEmpty)
        let b = Self.bytes("\n.")
        let r2 = b.withUnsafeBytes { s.scan($0) }
        #expect(r2.prefix == [13] && r2.forward == 0..<1 && r2.consumed == 2)
        let c = Self.bytes("\r")
        let r3 = c.withUnsafeBytes { s.scan($0) }
        #expect(r3.prefix.isEmpty && r3.forward.isEmpty && !r3.ended && r3.consumed == 1)
        let d = Self.bytes("\nNEXT")
        let r4 = d.withUnsafeBytes { s.scan($0) }
        #expect(r4.ended && r4.consumed == 1 && r4.forward.isEmpty && r4.prefix.isEmpty)
        #expect(s.messageBytes == 5)

        // A held "." that turns out to be text is released as prefix.
        var t = DataScanner(maxMessageBytes: 100)
        let e = Self.bytes("x\r\n.")
        let f = Self.bytes(".y\r\n")
        let q1 = e.withUnsafeBytes { t.scan($0) }
        #expect(q1.forward == 0..<3 && q1.prefix.isEmpty && q1.consumed == 4)
        let q2 = f.withUnsafeBytes { t.scan($0) }
        #expect(q2.prefix == [46] && q2.forward == 0..<4 && q2.consumed == 4)
    }

    @Test func nothingForwardedAfterAViolationButEndStillFound() {
        let input = Self.bytes("ok line\r\nbad\nline\r\nmore\r\n.\r\nQUIT\r\n")
        let r = Self.scanAllWays(input)
        #expect(r.violation == .bareLF && r.ended)
        #expect(r.forwarded == Self.bytes("ok line\r\nbad"))
        #expect(r.consumed == input.count - 6)
    }

    // MARK: Limits

    @Test func lineLengthLimit() {
        let ok = [UInt8](repeating: 65, count: 998) + [13, 10]
        let r = Self.scanAllWays(ok + ok + Self.bytes(".\r\n"))
        #expect(r.violation == nil && r.forwarded == ok + ok)
        let long = [UInt8](repeating: 65, count: 999) + [13, 10]
        let r2 = Self.scanAllWays(ok + long + Self.bytes("x\r\n.\r\nQUIT"))
        #expect(r2.violation == .lineTooLong && r2.ended && r2.consumed == ok.count + long.count + 6)
        #expect(r2.forwarded.count <= ok.count + 998)
        // The leading transparency dot does not count (RFC 5321 4.5.3.1.6): 1001 octets on
        // the wire are a legal 1000-octet line.
        let dottedOK = [46] + [UInt8](repeating: 65, count: 998) + [13, 10]
        #expect(Self.scanAllWays(dottedOK + Self.bytes(".\r\n")).violation == nil)
        let dotted = [46] + [UInt8](repeating: 65, count: 999) + [13, 10]
        #expect(Self.scanAllWays(dotted + Self.bytes(".\r\n")).violation == .lineTooLong)
    }

    @Test func sizeLimit() {
        let body = Self.bytes("0123456789\r\n")  // 12 bytes
        let exact = Self.scanAllWays(body + Self.bytes(".\r\n"), max: 12)
        #expect(exact.violation == nil && exact.forwarded == body)
        let over = Self.scanAllWays(body + Self.bytes(".\r\n"), max: 11)
        #expect(over.violation == .tooLarge && over.ended && over.consumed == 15)
        #expect(over.forwarded.count <= 11)
        let big = Self.scanAllWays(body + body + body + Self.bytes(".\r\nQUIT\r\n"), max: 20)
        #expect(big.violation == .tooLarge && big.ended && big.consumed == 39)
        #expect(big.forwarded.count <= 20)
        // A dot-stuffed line counts as received; the terminator does not count.
        #expect(Self.scanAllWays(Self.bytes("..\r\n.\r\n"), max: 4).violation == nil)
        #expect(Self.scanAllWays(Self.bytes("..\r\n.\r\n"), max: 3).violation == .tooLarge)
        #expect(Self.scanAllWays(Self.bytes(".\r\n"), max: 0).violation == nil)
    }

    @Test func violationReplies() {
        #expect(DataViolation.tooLarge.replyCode == 552 && DataViolation.tooLarge.enhancedStatus == "5.3.4")
        #expect(DataViolation.bareLF.replyCode == 550 && DataViolation.bareLF.enhancedStatus == "5.5.2")
    }

    // MARK: Against the reference model

    @Test func randomBodiesMatchTheReference() {
        var rng = SplitMix64(seed: 0xDA7A)
        let alphabet: [UInt8] = [65, 65, 65, 46, 46, 13, 13, 10, 10, 0]
        for round in 0..<1500 {
            let len = Int.random(in: 0...24, using: &rng)
            var input = (0..<len).map { _ in alphabet.randomElement(using: &rng)! }
            if round % 2 == 0 { input += Self.bytes("\r\n.\r\n") }
            input += Self.bytes("QUIT\r\n")
            let policy: BareLinePolicy = round % 3 == 0 ? .normalize : .reject
            let max = round % 5 == 0 ? Int.random(in: 0...20, using: &rng) : 1000
            let e = BodyReference.data(input, max: max, policy: policy)
            let r = Self.scanAllWays(input, max: max, policy: policy)
            let desc = "input=\(BodyCodecRun.escape(input)) \(policy) max=\(max): \(r)"
            #expect(r.ended == e.ended, "\(desc)")
            #expect(r.consumed == e.consumed, "\(desc)")
            if e.ended { #expect(r.violation == e.violation, "\(desc)") }
            if r.violation == nil {
                if e.ended { #expect(r.forwarded == e.output, "\(desc)") }
                else { #expect(e.output.starts(with: r.forwarded), "\(desc)") }
            } else {
                #expect(e.output.starts(with: r.forwarded), "\(desc)")
                Self.expectSafeForUpstream(r.forwarded)
            }
            if e.ended && r.violation == nil { Self.expectSafeForUpstream(r.forwarded) }
        }
    }
}
