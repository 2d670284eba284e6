// A small, pure command-line flag parser shared by every `uring-relay` mode
// (tcp, smtp, rtp, rtsp). No I/O: parsing yields `ParsedFlags` or a one-line
// `UsageError`; the caller prints and picks the exit status.
//
// Grammar:
//   --name value | --name=value   value flag (spec.valueName != nil)
//   --name                        boolean switch (spec.valueName == nil)
//   -h | --help                   UsageError.helpRequested (wins over any other error)
//   --                            everything after is positional
//   anything else not starting with "-" (or exactly "-") is positional
// A value flag's separate value may not start with "--" (use --name=--x for that).
// Empty values are rejected. A non-repeatable flag (or any switch) given twice is an error.

/// A usage problem, or a request for help. `description` is always one line.
public enum UsageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `-h` / `--help` was given: print `FlagParser.helpText` to stdout and exit 0.
    case helpRequested
    /// A bad command line; the message names the flag and the bad value.
    case invalid(String)

    public var description: String {
        switch self {
        case .helpRequested: return "help requested"
        case .invalid(let message): return singleLine(message)
        }
    }
}

/// Declaration of one flag.
public struct FlagSpec: Sendable, Equatable {
    /// Name without the leading dashes, e.g. "listen".
    public var name: String
    /// Placeholder shown in help, e.g. "HOST:PORT". `nil` makes the flag a boolean switch.
    public var valueName: String?
    /// One-line help text.
    public var help: String
    /// Whether the flag may be given more than once (values accumulate in order).
    public var repeatable: Bool
    /// Default shown in help as "(default: ...)". Purely informational.
    public var defaultText: String?

    public init(
        _ name: String, value valueName: String? = nil, help: String,
        repeatable: Bool = false, default defaultText: String? = nil
    ) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.repeatable = repeatable
        self.defaultText = defaultText
    }

    /// Whether this flag is a boolean switch (takes no value).
    public var isSwitch: Bool { valueName == nil }
}

/// The result of parsing. Keys are flag names without dashes.
public struct ParsedFlags: Sendable, Equatable {
    /// Values of value flags, in command-line order.
    public var values: [String: [String]]
    /// Boolean switches that were given.
    public var switches: Set<String>
    /// Arguments that are not flags (and everything after `--`).
    public var positionals: [String]

    public init(values: [String: [String]] = [:], switches: Set<String> = [], positionals: [String] = []) {
        self.values = values
        self.switches = switches
        self.positionals = positionals
    }
}

public struct FlagParser: Sendable {
    public let command: String
    public let summary: String
    public let specs: [FlagSpec]
    /// Shown after "[flags]" in the usage line, e.g. "FILE...". Empty for none.
    public let arguments: String
    private let byName: [String: FlagSpec]

    /// - Parameters:
    ///   - command: full command as typed, e.g. "uring-relay tcp".
    ///   - summary: one-paragraph description shown under the usage line.
    ///   - specs: flags, in the order they appear in help. Names must be unique,
    ///     non-empty, must not start with "-" or contain "=", and must not be "help".
    public init(command: String, summary: String, specs: [FlagSpec], arguments: String = "") {
        var byName: [String: FlagSpec] = [:]
        for spec in specs {
            precondition(!spec.name.isEmpty && !spec.name.hasPrefix("-") && !spec.name.contains("="),
                         "bad flag name \(spec.name)")
            precondition(spec.name != "help", "--help is built in")
            precondition(byName[spec.name] == nil, "flag --\(spec.name) declared twice")
            byName[spec.name] = spec
        }
        self.command = command
        self.summary = summary
        self.specs = specs
        self.arguments = arguments
        self.byName = byName
    }

    public func parse(_ args: [String]) throws(UsageError) -> ParsedFlags {
        // Help wins over any other problem on the line, but not after "--".
        for arg in args {
            if arg == "--" { break }
            if arg == "-h" || arg == "--help" { throw .helpRequested }
        }

        var result = ParsedFlags()
        var i = 0
        while i < args.count {
            let arg = args[i]
            i += 1
            if arg == "--" {
                result.positionals.append(contentsOf: args[i...])
                break
            }
            guard arg.hasPrefix("-"), arg != "-" else {
                result.positionals.append(arg)
                continue
            }
            guard arg.hasPrefix("--") else {
                throw .invalid("unknown flag \(escaped(arg)) (see \(command) --help)")
            }

            let body = arg.dropFirst(2)
            let name: String
            var inlineValue: String? = nil
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                inlineValue = String(body[body.index(after: eq)...])
            } else {
                name = String(body)
            }
            guard let spec = byName[name] else {
                throw .invalid("unknown flag --\(escaped(name)) (see \(command) --help)")
            }

            if spec.isSwitch {
                if inlineValue != nil { throw .invalid("--\(name) takes no value") }
                if result.switches.contains(name), !spec.repeatable {
                    throw .invalid("--\(name) given more than once")
                }
                result.switches.insert(name)
                continue
            }

            let value: String
            if let inlineValue {
                value = inlineValue
            } else if i < args.count, !args[i].hasPrefix("--") {
                value = args[i]
                i += 1
            } else {
                throw .invalid("--\(name) needs a value (\(spec.valueName!))")
            }
            if value.isEmpty { throw .invalid("--\(name) needs a value (\(spec.valueName!)), got an empty string") }
            if result.values[name] != nil, !spec.repeatable {
                throw .invalid("--\(name) given more than once")
            }
            result.values[name, default: []].append(value)
        }
        return result
    }

    /// Usage line, summary, then every flag aligned in a column. Ends with a newline.
    public var helpText: String {
        var usage = "usage: \(command) [flags]"
        if !arguments.isEmpty { usage += " \(arguments)" }
        var lines = [usage]
        if !summary.isEmpty { lines += ["", summary] }

        var rows: [(String, String)] = specs.map { spec in
            var left = "--\(spec.name)"
            if let v = spec.valueName { left += " \(v)" }
            var right = spec.help
            if let d = spec.defaultText { right += " (default: \(d))" }
            if spec.repeatable { right += " (repeatable)" }
            return (left, right)
        }
        rows.append(("-h, --help", "show this help"))
        let width = rows.map { $0.0.count }.max()! + 3
        lines += ["", "flags:"]
        for (left, right) in rows {
            lines.append("  " + left + String(repeating: " ", count: width - left.count) + right)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

// MARK: - Typed accessors

extension ParsedFlags {
    /// Whether the switch was given.
    public func flag(_ name: String) -> Bool {
        switches.contains(name)
    }

    /// The value of a non-repeatable flag (the last one if somehow several), or nil.
    public func string(_ name: String) throws(UsageError) -> String? {
        guard let value = values[name]?.last else { return nil }
        if value.isEmpty { throw .invalid("--\(name) must not be empty") }
        return value
    }

    /// The value, or `defaultValue` if the flag was not given.
    public func string(_ name: String, default defaultValue: String) throws(UsageError) -> String {
        try string(name) ?? defaultValue
    }

    /// The value of a flag that must be given: "--upstream is required".
    public func required(_ name: String) throws(UsageError) -> String {
        guard let value = try string(name) else { throw .invalid("--\(name) is required") }
        return value
    }

    /// All values of a repeatable flag, in order; empty if not given.
    public func strings(_ name: String) throws(UsageError) -> [String] {
        let all = values[name] ?? []
        if all.contains(where: \.isEmpty) { throw .invalid("--\(name) must not be empty") }
        return all
    }

    /// A non-negative decimal integer within `range`.
    public func int(
        _ name: String, default defaultValue: Int, range: ClosedRange<Int> = 0...Int.max
    ) throws(UsageError) -> Int {
        guard let text = try string(name) else { return defaultValue }
        guard let digits = parseDigits(Substring(text)) else {
            throw .invalid("--\(name) expects a non-negative integer, got \(printable(text))")
        }
        guard let n = digits else { throw .invalid("--\(name) value \(printable(text)) is too large") }
        try check(name, n, text, range, unit: "")
        return n
    }

    /// A byte count: "4096", "16K", "16k", "16KiB", "16KB", "1M", "1MiB", "25MB", "2G".
    /// K/M/G, KB/MB/GB and KiB/MiB/GiB all mean powers of 1024; a trailing "B" alone means bytes.
    /// Suffixes are case-insensitive.
    public func bytes(
        _ name: String, default defaultValue: Int, range: ClosedRange<Int> = 0...Int.max
    ) throws(UsageError) -> Int {
        guard let text = try string(name) else { return defaultValue }
        let split = text.firstIndex(where: { !$0.isASCII || !$0.isNumber }) ?? text.endIndex
        let multipliers: [String: Int] = [
            "": 1, "b": 1,
            "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
            "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
        ]
        guard let digits = parseDigits(text[..<split]),
              let multiplier = multipliers[text[split...].lowercased()]
        else {
            throw .invalid("--\(name) expects a size like 4096, 16K, 1MiB or 25MB, got \(printable(text))")
        }
        guard let n = digits else { throw .invalid("--\(name) value \(printable(text)) is too large") }
        let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
        if overflow { throw .invalid("--\(name) value \(printable(text)) is too large") }
        try check(name, product, text, range, unit: " bytes")
        return product
    }

    /// A duration in milliseconds: "250ms", "5s", "2m", "1h"; a bare number is milliseconds.
    public func milliseconds(
        _ name: String, default defaultValue: Int, range: ClosedRange<Int> = 0...Int.max
    ) throws(UsageError) -> Int {
        guard let text = try string(name) else { return defaultValue }
        let split = text.firstIndex(where: { !$0.isASCII || !$0.isNumber }) ?? text.endIndex
        let multipliers: [String: Int] = ["ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000]  // case-insensitive
        // A bare number is ambiguous (haproxy reads ms, Postfix seconds): only 0 may go without a unit.
        let unit = text[split...].lowercased()
        guard let digits = parseDigits(text[..<split]),
              let multiplier = unit.isEmpty && text.allSatisfy({ $0 == "0" }) ? 1 : multipliers[unit]
        else {
            throw .invalid("--\(name) expects a duration with a unit, like 250ms, 5s, 2m or 1h, got \(printable(text))")
        }
        guard let n = digits else { throw .invalid("--\(name) value \(printable(text)) is too large") }
        let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
        if overflow { throw .invalid("--\(name) value \(printable(text)) is too large") }
        try check(name, product, text, range, unit: "ms")
        return product
    }

    /// One of `allowed` (exact match).
    public func choice(_ name: String, allowed: [String], default defaultValue: String) throws(UsageError) -> String {
        guard let text = try string(name) else { return defaultValue }
        guard allowed.contains(text) else {
            throw .invalid("--\(name) must be one of \(allowed.joined(separator: ", ")), got \(printable(text))")
        }
        return text
    }

    /// Throws "unexpected argument ..." if any positional argument was given.
    public func expectNoPositionals() throws(UsageError) {
        if let first = positionals.first { throw .invalid("unexpected argument \(printable(first))") }
    }

    private func check(
        _ name: String, _ n: Int, _ text: String, _ range: ClosedRange<Int>, unit: String
    ) throws(UsageError) {
        guard range.contains(n) else {
            let bounds = range.upperBound == Int.max
                ? "at least \(range.lowerBound)\(unit)"
                : "between \(range.lowerBound)\(unit) and \(range.upperBound)\(unit)"
            throw .invalid("--\(name) must be \(bounds), got \(printable(text))")
        }
    }
}

// MARK: - Helpers

/// Parses ASCII decimal digits. nil: not a number (empty, sign, other characters);
/// .some(nil): digits but overflows Int.
private func parseDigits(_ text: Substring) -> Int?? {
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    var n = 0
    for c in text.utf8 {
        let (m, o1) = n.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
        if o1 || o2 { return .some(nil) }
        n = s
    }
    return .some(n)
}

/// A user-supplied value quoted for an error message, with control characters
/// (and Unicode line separators) escaped so the message stays on one line.
private func printable(_ text: String) -> String {
    "\"" + escaped(text) + "\""
}

/// `text` with quotes, backslashes and control characters escaped; stays on one line.
private func escaped(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029 {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Collapses any line breaks so a message is guaranteed to print as one line.
private func singleLine(_ message: String) -> String {
    String(String.UnicodeScalarView(message.unicodeScalars.map { scalar -> Unicode.Scalar in
        switch scalar.value {
        case 0x0A, 0x0D, 0x0B, 0x0C, 0x85, 0x2028, 0x2029: return " "
        default: return scalar
        }
    }))
}
