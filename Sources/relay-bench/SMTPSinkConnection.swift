import UringRelay

/// One upstream connection of SMTPSink (owned by the sink thread): where it is in the SMTP
/// dialogue and the replies not yet sent.
final class SMTPSinkConnection {
    let fd: Int32
    var lines = SMTPCommandLineReader()
    var scanner = BenchMailScanner()
    var greeted = false
    var inTransaction = false
    var recipients = 0
    /// Between DATA's 354 and the end-of-data line.
    var inData = false
    /// QUIT was answered: close once the reply is out.
    var closing = false
    /// Replies not yet written (from `outOffset` on); the sink sends them once per read batch,
    /// so pipelined commands get their replies in one write.
    var out: [UInt8] = []
    var outOffset = 0

    init(fd: Int32) {
        self.fd = fd
        out.reserveCapacity(1024)
    }
}
