import Testing
@testable import UringRelay

/// relay-bench's SMTP sink logic: dot-unstuffing, end of data, Received skipping, the id and
/// the digest, whatever the input split.
@Suite struct BenchMailScannerTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func digest(_ s: String) -> BenchMailDigest {
        var d = BenchMailDigest()
        d.add(bytes(s))
        return d
    }

    /// Feeds `wire` in pieces cut at `cuts`; returns the consumed count (nil: no end) and summary.
    static func scan(_ wire: [UInt8], cuts: [Int]) -> (Int?, BenchMailSummary) {
        var scanner = BenchMailScanner()
        var start = 0
        for end in (cuts.filter { $0 > 0 && $0 < wire.count }.sorted() + [wire.count]) where end > start {
            if let n = scanner.scan(wire[start..<end]) { return (start + n, scanner.finish()) }
            start = end
        }
        return (nil, scanner.finish())
    }

    /// All at once, byte by byte and 50 seeded random splits give the same result.
    static func scanEverySplit(_ wire: [UInt8]) -> (Int?, BenchMailSummary) {
        let whole = scan(wire, cuts: [])
        #expect(scan(wire, cuts: Array(0..<wire.count)) == whole)
        var rng = SplitMix64(seed: 5)
        for _ in 0..<50 {
            let cuts = (0..<Int.random(in: 1...8, using: &rng)).map { _ in Int.random(in: 0..<wire.count, using: &rng) }
            #expect(scan(wire, cuts: cuts) == whole)
        }
        return whole
    }

    @Test func digestIgnoresSplits() {
        var rng = SplitMix64(seed: 1)
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var whole = BenchMailDigest()
        whole.add(data)
        for _ in 0..<50 {
            var d = BenchMailDigest()
            var i = 0
            while i < data.count {
                let n = Int.random(in: 0...20, using: &rng)
                d.add(Array(data[i..<min(data.count, i + n)]))
                i += n
            }
            #expect(d.value == whole.value && d.octets == 1000)
        }
        var flipped = data
        flipped[517] ^= 0x40
        var other = BenchMailDigest()
        other.add(flipped)
        #expect(other.value != whole.value)
        // A trailing zero octet changes the value (the length is part of it).
        var longer = BenchMailDigest()
        longer.add(data + [0])
        #expect(longer.value != whole.value)
    }

    @Test func unstuffsSkipsReceivedAndFindsTheEnd() {
        let wire = Self.bytes(
            "Received: from client.bench ([127.0.0.1])\r\n\tby relay.bench (uring-relay) with ESMTP id 1;\r\n Thu, 03 Dec 2026 19:30:45 +0000\r\n"
            + "received: by another.hop\r\n"
            + "From: a@b\r\nX-Bench-Id: 00007-000012-0000000345\r\nSubject: s\r\n\tfolded subject\r\n\r\n"
            + "..starts with a dot\r\n..\r\n...\r\nbody\r\n.\r\nQUIT\r\n")
        let (end, s) = Self.scanEverySplit(wire)
        #expect(end == wire.count - 6)  // "QUIT\r\n" is left for the command reader
        #expect(s.receivedFields == 2)
        #expect(s.id == BenchMailID(run: 7, session: 12, sequence: 345))
        #expect(s.idFields == 1)
        #expect(s.bareLineEndings == 0)
        let content = "From: a@b\r\nSubject: s\r\n\tfolded subject\r\n\r\n.starts with a dot\r\n.\r\n..\r\nbody\r\n"
        #expect(s.digest == Self.digest(content).value)
        #expect(s.octets == content.utf8.count)
    }

    @Test func receivedAfterAnotherFieldIsContent() {
        let wire = Self.bytes("From: a@b\r\nReceived: late\r\n\tcontinued\r\n\r\nx\r\n.\r\n")
        let (end, s) = Self.scanEverySplit(wire)
        #expect(end == wire.count)
        #expect(s.receivedFields == 0 && s.id == nil && s.idFields == 0)
        #expect(s.digest == Self.digest("From: a@b\r\nReceived: late\r\n\tcontinued\r\n\r\nx\r\n").value)
    }

    @Test func emptyMessageAndImmediateEnd() {
        let (end, s) = Self.scanEverySplit(Self.bytes(".\r\nMAIL"))
        #expect(end == 3)
        #expect(s.octets == 0 && s.digest == BenchMailDigest().value)
    }

    @Test func bareLineFeedsAreCountedAndDoNotEndData() {
        // ".\n" and a dot after a bare LF are content; only CRLF "." CRLF ends the message.
        let wire = Self.bytes("h: v\r\n\r\na\n.\r\n.\nb\r\n.\r\n")
        let (end, s) = Self.scanEverySplit(wire)
        #expect(end == wire.count)
        #expect(s.bareLineEndings == 2)
        #expect(s.digest == Self.digest("h: v\r\n\r\na\n.\r\n\nb\r\n").value)
        // "a\n" ends with a bare LF, so ".\r\n" after it is content, not the end: "." stays.
    }

    @Test func dotCRWithoutLFIsContent() {
        let wire = Self.bytes("\r\n.\rx\r\n.\r\n")
        let (end, s) = Self.scanEverySplit(wire)
        #expect(end == wire.count)
        #expect(s.digest == Self.digest("\r\n\rx\r\n").value)
    }

    @Test func noEndMeansNil() {
        let (end, _) = Self.scanEverySplit(Self.bytes("a\r\n.\r"))
        #expect(end == nil)
    }

    @Test func duplicateOrMalformedIDs() {
        let twice = Self.bytes("X-Bench-Id: 00001-000001-0000000001\r\nx-bench-id: 00001-000001-0000000002\r\n\r\n.\r\n")
        let (_, s) = Self.scanEverySplit(twice)
        #expect(s.idFields == 2 && s.id == BenchMailID(run: 1, session: 1, sequence: 1))
        let bad = Self.bytes("X-Bench-Id: 1-2-3\r\n\r\n.\r\n")
        #expect(Self.scanEverySplit(bad).1.id == nil)
        #expect(BenchMailID(headerValue: Self.bytes(" 65535-999999-4294967295\t")) == BenchMailID(run: 65535, session: 999_999, sequence: 4_294_967_295))
        #expect(BenchMailID(headerValue: Self.bytes("65536-000000-0000000000")) == nil)
        #expect(BenchMailID(run: 3, session: 42, sequence: 7).description == "00003-000042-0000000007")
    }

    @Test(arguments: [256, 1024, 16 * 1024, 128 * 1024 + 3])
    func templateMatchesWhatTheSinkSeesThroughARelay(size: Int) {
        let t = BenchMailTemplate(size: size)
        // Unstuffed size: the wire without the end line and without one dot per stuffed line.
        var stuffed = 0
        var lineStart = true
        for b in t.wire.dropLast(3) {
            if lineStart && b == 46 { stuffed += 1 }
            lineStart = b == 10
        }
        #expect(t.wire.count - 3 - stuffed == size)
        #expect(stuffed >= 2)
        #expect(t.expectedOctets == size - (BenchMailID.headerName.utf8.count + 2 + BenchMailID.valueWidth + 2))

        // What a relay forwards: its Received header, then the message with a real id.
        var message = t.wire
        let id = BenchMailID(run: 9, session: 31, sequence: 1234)
        message.withUnsafeMutableBytes { id.write(into: $0.baseAddress! + t.idOffset) }
        let relayed = ReceivedHeader.make(heloName: "client.bench", clientIP: "127.0.0.1", hostname: "relay.bench",
                                          protocol: .esmtp, id: "Q1", recipient: BenchMailTemplate.recipient,
                                          unixTime: 1_796_326_245) + message
        var scanner = BenchMailScanner()
        let end = relayed.withUnsafeBytes { scanner.scan($0) }
        #expect(end == relayed.count)
        let s = scanner.finish()
        #expect(s.id == id && s.idFields == 1 && s.receivedFields == 1 && s.bareLineEndings == 0)
        #expect(s.digest == t.expectedDigest && s.octets == t.expectedOctets)
        #expect(t.headOctets > t.idOffset + BenchMailID.valueWidth && t.headOctets < t.wire.count)
    }
}
