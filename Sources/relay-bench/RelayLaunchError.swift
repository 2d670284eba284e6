/// The relay child did not come up; `message` is one line (usually the relay's own last
/// stderr line, e.g. why io_uring is unavailable).
struct RelayLaunchError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
