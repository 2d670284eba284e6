/// `uring-relay queue list|flush|delete ID --spool DIR`: the operator's view of a spool. Pure
/// apart from the spool itself (`SpoolQueueReport` does the reading).
public enum SpoolQueueCommand {
    public enum Action: Equatable, Sendable {
        case list
        case flush
        case delete(String)
    }

    public static let parser = FlagParser(
        command: "uring-relay queue",
        summary: "Look at and act on a queue-mode spool: list its messages, make them all due now (flush), "
            + "or delete one. Works while the relay runs.",
        specs: [FlagSpec("spool", value: "DIR", help: "the spool directory given to uring-relay smtp --mode queue")],
        arguments: "list | flush | delete ID")

    public static func parse(_ args: [String]) throws(UsageError) -> (action: Action, spool: String) {
        let f = try parser.parse(args)
        let spool = try f.required("spool")
        guard let verb = f.positionals.first else { throw .invalid("expected list, flush or delete ID") }
        let rest = Array(f.positionals.dropFirst())
        switch verb {
        case "list", "flush":
            if let extra = rest.first { throw .invalid("unexpected argument \"\(extra)\" after \(verb)") }
            return (verb == "list" ? .list : .flush, spool)
        case "delete":
            guard rest.count == 1 else { throw .invalid("delete takes one queue id") }
            guard SpoolDirectory.isValidID(rest[0]) else { throw .invalid("\"\(rest[0])\" is not a queue id") }
            return (.delete(rest[0]), spool)
        default:
            throw .invalid("unknown queue command \"\(verb)\" (expected list, flush or delete ID)")
        }
    }
}
