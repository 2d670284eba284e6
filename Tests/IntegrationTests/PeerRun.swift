/// What a peer program run to completion left behind (see `PeerProcess.run`).
struct PeerRun {
    /// Exit status, or the signal number when `signaled`.
    var status: Int32
    var signaled: Bool
    /// It ran past its timeout and was killed.
    var timedOut: Bool
    var stdout: [UInt8]
    var stderr: String
    var elapsed: Double

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// stdout split into lines (at LF or CR; empty lines dropped).
    var stdoutLines: [String] { PeerProcess.lines(of: stdout) }
}
