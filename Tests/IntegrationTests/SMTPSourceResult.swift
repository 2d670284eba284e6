/// How one smtp-source run ended. smtp-source exits 1 with a "fatal: ..." line on stderr at
/// the first refusal (unless `continueOnRejects`, -A, which makes refusals warnings), at a
/// refused connection or a lost one.
struct SMTPSourceResult {
    var status: Int32
    var timedOut: Bool
    var stdout: String
    var stderr: String
    var elapsed: Double
}
