/// One run of `SmtplibClient`: one result per message, and how the script ended (0 even
/// when the server refused everything: refusals are in `messages`).
struct SmtplibResult {
    var status: Int32
    var timedOut: Bool
    var stderr: String
    var messages: [SmtplibMessageResult]
}
