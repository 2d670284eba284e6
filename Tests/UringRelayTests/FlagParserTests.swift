import Testing
@testable import UringRelay

/// A parser shaped like `uring-relay tcp`.
private let tcp = FlagParser(
    command: "uring-relay tcp",
    summary: "Relay TCP connections to an upstream.",
    specs: [
        FlagSpec("listen", value: "HOST:PORT", help: "address to listen on", default: "0.0.0.0:9000"),
        FlagSpec("upstream", value: "HOST:PORT", help: "address to relay to"),
        FlagSpec("allow", value: "CIDR", help: "client networks allowed", repeatable: true),
        FlagSpec("workers", value: "N", help: "worker threads", default: "1"),
        FlagSpec("buffer-size", value: "BYTES", help: "size of each pooled buffer", default: "16KiB"),
        FlagSpec("idle-timeout", value: "DURATION", help: "close idle connections after", default: "5m"),
        FlagSpec("engine", value: "NAME", help: "I/O engine: uring or epoll", default: "uring"),
        FlagSpec("verbose", help: "log every connection"),
        FlagSpec("v", help: "more logging", repeatable: true),
    ]
)

private func parse(_ args: [String]) throws(UsageError) -> ParsedFlags {
    try tcp.parse(args)
}

private func parseError(_ args: [String]) -> UsageError? {
    do {
        _ = try tcp.parse(args)
        return nil
    } catch {
        return error
    }
}

private func accessorError(_ body: () throws(UsageError) -> Void) -> UsageError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

private func flags(_ name: String, _ value: String) -> ParsedFlags {
    ParsedFlags(values: [name: [value]])
}

@Suite struct FlagParserTests {

    // MARK: parse: accepted forms

    @Test(arguments: [
        (["--listen", "127.0.0.1:25"], ParsedFlags(values: ["listen": ["127.0.0.1:25"]])),
        (["--listen=127.0.0.1:25"], ParsedFlags(values: ["listen": ["127.0.0.1:25"]])),
        (["--upstream=a=b"], ParsedFlags(values: ["upstream": ["a=b"]])),
        (["--upstream=--x"], ParsedFlags(values: ["upstream": ["--x"]])),
        (["--upstream", "-"], ParsedFlags(values: ["upstream": ["-"]])),
        (["--upstream", "-5"], ParsedFlags(values: ["upstream": ["-5"]])),
        (["--allow", "10.0.0.0/8", "--allow=::1/128"], ParsedFlags(values: ["allow": ["10.0.0.0/8", "::1/128"]])),
        (["--verbose"], ParsedFlags(switches: ["verbose"])),
        (["--v", "--v"], ParsedFlags(switches: ["v"])),
        (["a", "--verbose", "b"], ParsedFlags(switches: ["verbose"], positionals: ["a", "b"])),
        (["-"], ParsedFlags(positionals: ["-"])),
        (["--", "--listen", "--help", "-h"], ParsedFlags(positionals: ["--listen", "--help", "-h"])),
        (["--verbose", "--", "--", "x"], ParsedFlags(switches: ["verbose"], positionals: ["--", "x"])),
        ([], ParsedFlags()),
        (
            ["--listen", ":25", "--upstream=u:25", "--workers", "4", "--verbose", "p"],
            ParsedFlags(values: ["listen": [":25"], "upstream": ["u:25"], "workers": ["4"]],
                        switches: ["verbose"], positionals: ["p"])
        ),
    ])
    func acceptedForms(args: [String], expected: ParsedFlags) throws {
        #expect(try parse(args) == expected)
    }

    // MARK: parse: help

    @Test(arguments: [
        ["-h"], ["--help"], ["--listen", ":1", "--help"], ["--bogus", "-h"], ["--listen", "--help"],
        ["--workers=1", "--workers=2", "--help"], ["x", "--help", "--", "y"],
    ])
    func helpRequested(args: [String]) {
        #expect(parseError(args) == .helpRequested)
    }

    // MARK: parse: errors

    @Test(arguments: [
        (["--foo"], "unknown flag --foo (see uring-relay tcp --help)"),
        (["--foo=bar"], "unknown flag --foo (see uring-relay tcp --help)"),
        (["-x"], "unknown flag -x (see uring-relay tcp --help)"),
        (["-5"], "unknown flag -5 (see uring-relay tcp --help)"),
        (["--Listen", "x"], "unknown flag --Listen (see uring-relay tcp --help)"),
        (["--"+"a\nb"], "unknown flag --a\\nb (see uring-relay tcp --help)"),
        (["--=x"], "unknown flag -- (see uring-relay tcp --help)"),
        (["--listen"], "--listen needs a value (HOST:PORT)"),
        (["--listen", "--verbose"], "--listen needs a value (HOST:PORT)"),
        (["--listen", "--"], "--listen needs a value (HOST:PORT)"),
        (["--listen="], "--listen needs a value (HOST:PORT), got an empty string"),
        (["--listen", ""], "--listen needs a value (HOST:PORT), got an empty string"),
        (["--listen", "a", "--listen", "b"], "--listen given more than once"),
        (["--listen=a", "--listen=a"], "--listen given more than once"),
        (["--verbose", "--verbose"], "--verbose given more than once"),
        (["--verbose=yes"], "--verbose takes no value"),
        (["--verbose="], "--verbose takes no value"),
    ])
    func parseErrors(args: [String], message: String) {
        let error = parseError(args)
        #expect(error == .invalid(message))
        #expect(error?.description == message)
    }

    // MARK: accessors: strings

    @Test func stringAccessors() throws {
        let parsed = try parse(["--listen", ":25", "--allow", "a", "--allow", "b", "--verbose"])
        #expect(try parsed.string("listen") == ":25")
        #expect(try parsed.string("upstream") == nil)
        #expect(try parsed.string("upstream", default: "d") == "d")
        #expect(try parsed.string("listen", default: "d") == ":25")
        #expect(try parsed.required("listen") == ":25")
        #expect(try parsed.strings("allow") == ["a", "b"])
        #expect(try parsed.strings("upstream") == [])
        #expect(parsed.flag("verbose"))
        #expect(!parsed.flag("v"))
    }

    @Test(arguments: [
        ("required upstream", ParsedFlags(), "--upstream is required"),
        ("empty string", ParsedFlags(values: ["upstream": [""]]), "--upstream must not be empty"),
        ("empty required", ParsedFlags(values: ["upstream": [""]]), "--upstream must not be empty"),
        ("empty in list", ParsedFlags(values: ["upstream": ["a", ""]]), "--upstream must not be empty"),
    ])
    func stringErrors(label: String, parsed: ParsedFlags, message: String) {
        let error = accessorError { () throws(UsageError) in
            switch label {
            case "empty string": _ = try parsed.string("upstream")
            case "empty in list": _ = try parsed.strings("upstream")
            default: _ = try parsed.required("upstream")
            }
        }
        #expect(error == .invalid(message))
    }

    // MARK: accessors: int

    @Test(arguments: [
        ("0", 0), ("4", 4), ("007", 7), ("9223372036854775807", Int.max),
    ])
    func intAccepted(text: String, expected: Int) throws {
        #expect(try flags("workers", text).int("workers", default: 1) == expected)
    }

    @Test func intDefaultAndRange() throws {
        #expect(try ParsedFlags().int("workers", default: 3, range: 1...64) == 3)
        #expect(try flags("workers", "64").int("workers", default: 1, range: 1...64) == 64)
        #expect(try flags("workers", "1").int("workers", default: 1, range: 1...64) == 1)
    }

    @Test(arguments: [
        ("-1", 0...Int.max, "--workers expects a non-negative integer, got \"-1\""),
        ("+1", 0...Int.max, "--workers expects a non-negative integer, got \"+1\""),
        ("", 0...Int.max, "--workers must not be empty"),
        ("four", 0...Int.max, "--workers expects a non-negative integer, got \"four\""),
        ("1.5", 0...Int.max, "--workers expects a non-negative integer, got \"1.5\""),
        (" 1", 0...Int.max, "--workers expects a non-negative integer, got \" 1\""),
        ("1\n", 0...Int.max, "--workers expects a non-negative integer, got \"1\\n\""),
        ("0x10", 0...Int.max, "--workers expects a non-negative integer, got \"0x10\""),
        ("٣", 0...Int.max, "--workers expects a non-negative integer, got \"٣\""),
        ("9223372036854775808", 0...Int.max, "--workers value \"9223372036854775808\" is too large"),
        ("99999999999999999999999", 0...Int.max, "--workers value \"99999999999999999999999\" is too large"),
        ("0", 1...64, "--workers must be between 1 and 64, got \"0\""),
        ("65", 1...64, "--workers must be between 1 and 64, got \"65\""),
        ("1", 2...Int.max, "--workers must be at least 2, got \"1\""),
    ])
    func intErrors(text: String, range: ClosedRange<Int>, message: String) {
        let error = accessorError { () throws(UsageError) in
            _ = try flags("workers", text).int("workers", default: 1, range: range)
        }
        #expect(error == .invalid(message))
    }

    // MARK: accessors: bytes

    static let bytesCases: [(String, Int)] = [
        ("0", 0), ("4096", 4096), ("10B", 10), ("10b", 10),
        ("16K", 16 << 10), ("16k", 16 << 10), ("16KB", 16 << 10), ("16kb", 16 << 10),
        ("16KiB", 16 << 10), ("16kib", 16 << 10),
        ("1M", 1 << 20), ("1m", 1 << 20), ("1MiB", 1 << 20), ("25MB", 25 << 20),
        ("2G", 2 << 30), ("2GiB", 2 << 30), ("2GB", 2 << 30),
        ("8589934591G", 8_589_934_591 << 30),
    ]

    @Test(arguments: bytesCases)
    func bytesAccepted(text: String, expected: Int) throws {
        #expect(try flags("buffer-size", text).bytes("buffer-size", default: 1) == expected)
    }

    @Test func bytesDefault() throws {
        #expect(try ParsedFlags().bytes("buffer-size", default: 16384) == 16384)
    }

    @Test(arguments: [
        ("-1", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"-1\""),
        ("", "--buffer-size must not be empty"),
        ("K", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"K\""),
        ("16T", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"16T\""),
        ("16 K", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"16 K\""),
        ("1.5M", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"1.5M\""),
        ("16KiBs", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"16KiBs\""),
        ("16iB", "--buffer-size expects a size like 4096, 16K, 1MiB or 25MB, got \"16iB\""),
        ("8589934592G", "--buffer-size value \"8589934592G\" is too large"),
        ("99999999999999999999", "--buffer-size value \"99999999999999999999\" is too large"),
    ])
    func bytesErrors(text: String, message: String) {
        let error = accessorError { () throws(UsageError) in
            _ = try flags("buffer-size", text).bytes("buffer-size", default: 1)
        }
        #expect(error == .invalid(message))
    }

    @Test func bytesRange() {
        let error = accessorError { () throws(UsageError) in
            _ = try flags("buffer-size", "1K").bytes("buffer-size", default: 1, range: 2048...65536)
        }
        #expect(error == .invalid("--buffer-size must be between 2048 bytes and 65536 bytes, got \"1K\""))
    }

    // MARK: accessors: milliseconds

    @Test(arguments: [
        ("0", 0), ("000", 0), ("250ms", 250), ("250MS", 250), ("5s", 5000), ("5S", 5000),
        ("2m", 120_000), ("1h", 3_600_000), ("0s", 0),
    ])
    func millisecondsAccepted(text: String, expected: Int) throws {
        #expect(try flags("idle-timeout", text).milliseconds("idle-timeout", default: 1) == expected)
    }

    @Test func millisecondsDefault() throws {
        #expect(try ParsedFlags().milliseconds("idle-timeout", default: 300_000) == 300_000)
    }

    @Test(arguments: [
        ("-5s", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"-5s\""),
        ("", "--idle-timeout must not be empty"),
        ("s", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"s\""),
        ("5sec", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"5sec\""),
        ("1.5s", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"1.5s\""),
        ("5d", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"5d\""),
        ("5 s", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"5 s\""),
        ("9223372036854775807s", "--idle-timeout value \"9223372036854775807s\" is too large"),
        ("99999999999999999999ms", "--idle-timeout value \"99999999999999999999ms\" is too large"),
        // A bare number is ambiguous (seconds? milliseconds?): refused.
        ("250", "--idle-timeout expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \"250\""),
    ])
    func millisecondsErrors(text: String, message: String) {
        let error = accessorError { () throws(UsageError) in
            _ = try flags("idle-timeout", text).milliseconds("idle-timeout", default: 1)
        }
        #expect(error == .invalid(message))
    }

    @Test func millisecondsRange() {
        let error = accessorError { () throws(UsageError) in
            _ = try flags("idle-timeout", "10ms").milliseconds("idle-timeout", default: 1, range: 100...60_000)
        }
        #expect(error == .invalid("--idle-timeout must be between 100ms and 60000ms, got \"10ms\""))
    }

    // MARK: accessors: choice

    @Test func choice() throws {
        #expect(try flags("engine", "epoll").choice("engine", allowed: ["uring", "epoll"], default: "uring") == "epoll")
        #expect(try ParsedFlags().choice("engine", allowed: ["uring", "epoll"], default: "uring") == "uring")
        for bad in ["kqueue", "URING", " uring"] {
            let error = accessorError { () throws(UsageError) in
                _ = try flags("engine", bad).choice("engine", allowed: ["uring", "epoll"], default: "uring")
            }
            #expect(error == .invalid("--engine must be one of uring, epoll, got \"\(bad)\""))
        }
    }

    @Test func positionals() throws {
        try ParsedFlags().expectNoPositionals()
        let error = accessorError { () throws(UsageError) in
            try parse(["--verbose", "extra", "more"]).expectNoPositionals()
        }
        #expect(error == .invalid("unexpected argument \"extra\""))
    }

    // MARK: UsageError

    @Test func usageErrorDescriptionIsOneLine() {
        #expect(UsageError.helpRequested.description == "help requested")
        #expect(UsageError.invalid("a\nb\r\nc\u{2028}d").description == "a b  c d")
        let error = accessorError { () throws(UsageError) in
            _ = try flags("workers", "1\r\n2\u{2028}\u{0}").int("workers", default: 1)
        }
        let text = error?.description ?? ""
        #expect(text == "--workers expects a non-negative integer, got \"1\\r\\n2\\u{2028}\\u{0}\"")
        #expect(!text.contains("\n") && !text.contains("\r"))
    }

    // MARK: help text

    @Test func helpTextListsEveryFlagAligned() {
        let help = tcp.helpText
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "usage: uring-relay tcp [flags]")
        #expect(help.contains("Relay TCP connections to an upstream."))
        #expect(help.hasSuffix("\n"))
        for spec in tcp.specs {
            let left = "  --\(spec.name)" + (spec.valueName.map { " \($0)" } ?? "")
            #expect(lines.contains { $0.hasPrefix(left + " ") && $0.contains(spec.help) }, "missing --\(spec.name)")
        }
        #expect(lines.contains { $0.hasPrefix("  -h, --help ") })
        #expect(help.contains("address to listen on (default: 0.0.0.0:9000)"))
        #expect(help.contains("client networks allowed (repeatable)"))

        // Every flag's help text starts in the same column.
        let flagLines = lines.filter { $0.hasPrefix("  -") }
        #expect(flagLines.count == tcp.specs.count + 1)
        let columns = Set(flagLines.map { line -> Int in
            let afterFlag = line.dropFirst(2).firstRange(of: "   ")!.upperBound
            return line.distance(from: line.startIndex, to: line[afterFlag...].firstIndex { $0 != " " }!)
        })
        #expect(columns.count == 1)
        #expect(lines.contains("  --listen HOST:PORT        address to listen on (default: 0.0.0.0:9000)"))
    }

    @Test func helpTextArgumentsAndNoFlags() {
        let parser = FlagParser(command: "uring-relay x", summary: "", specs: [], arguments: "FILE...")
        #expect(parser.helpText == "usage: uring-relay x [flags] FILE...\n\nflags:\n  -h, --help   show this help\n")
    }
}
