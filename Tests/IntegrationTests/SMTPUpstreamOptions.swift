/// How an `SMTPUpstreamPeer` (Tests/peers/smtp_upstream.py) behaves: what its EHLO
/// advertises and which fault it injects. The defaults are a well-behaved server that
/// advertises SIZE, 8BITMIME, SMTPUTF8, PIPELINING and CHUNKING.
struct SMTPUpstreamOptions {
    /// Listen address: "127.0.0.1" or "::1". The port is always picked by the peer.
    var host = "127.0.0.1"
    /// 0: the peer picks a free port. A fixed one lets a test start the upstream after the
    /// relay was pointed at it (upstream down, then back).
    var port: UInt16 = 0
    /// Name in the greeting and the EHLO reply.
    var hostname = "upstream.test"

    // Advertisement (EHLO keywords)
    /// false: no CHUNKING, and BDAT is an unknown command (500).
    var chunking = true
    /// false: no SMTPUTF8; MAIL ... SMTPUTF8 gets 501, non-ASCII in commands 500.
    var smtputf8 = true
    /// false: no 8BITMIME; MAIL ... BODY=8BITMIME gets 555.
    var eightBitMIME = true
    /// false: PIPELINING is not advertised (pipelined input is still read correctly).
    var pipelining = true
    /// SIZE limit: MAIL SIZE= above it or a larger body gets 552. nil: 32 MiB; 0: no
    /// limit and no SIZE keyword.
    var maxSize: Int? = nil

    // Faults
    /// These recipients get 550 5.1.1 (case-insensitive).
    var refuseRecipients: [String] = []
    /// These recipients get 451 4.2.0 (case-insensitive).
    var tempfailRecipients: [String] = []
    /// 451 4.3.0 at the end of DATA (or BDAT LAST).
    var tempfailData = false
    /// 554 5.6.0 at the end of DATA (or BDAT LAST).
    var rejectData = false
    /// After this many body bytes of DATA (or BDAT chunks) the connection is closed with
    /// no reply; a shorter message is cut at its end of data.
    var disconnectMidDataAfter: Int? = nil
    /// Delay before every reply (the greeting included), in seconds.
    var replyDelay: Double? = nil
    /// Greet with 421 and close.
    var greet421 = false

    /// Command-line flags for smtp_upstream.py.
    var arguments: [String] {
        var a = ["--host", host, "--hostname", hostname]
        if port != 0 { a += ["--port", String(port)] }
        for r in tempfailRecipients { a += ["--tempfail-rcpt", r] }
        if !chunking { a.append("--no-chunking") }
        if !smtputf8 { a.append("--no-smtputf8") }
        if !eightBitMIME { a.append("--no-8bitmime") }
        if !pipelining { a.append("--no-pipelining") }
        if let maxSize { a += ["--max-size", String(maxSize)] }
        for r in refuseRecipients { a += ["--refuse-rcpt", r] }
        if tempfailData { a.append("--tempfail-data") }
        if rejectData { a.append("--reject-data") }
        if let disconnectMidDataAfter { a += ["--disconnect-mid-data", String(disconnectMidDataAfter)] }
        if let replyDelay { a += ["--slow", String(replyDelay)] }
        if greet421 { a.append("--greet-421") }
        return a
    }
}
