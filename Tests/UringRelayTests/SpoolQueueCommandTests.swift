import Testing
@testable import UringRelay

@Suite struct SpoolQueueCommandTests {
    @Test func verbsAndTheirArguments() throws {
        #expect(try SpoolQueueCommand.parse(["list", "--spool", "/s"]) == (.list, "/s"))
        #expect(try SpoolQueueCommand.parse(["--spool", "/s", "flush"]) == (.flush, "/s"))
        #expect(try SpoolQueueCommand.parse(["delete", "AB.0.1", "--spool", "/s"]) == (.delete("AB.0.1"), "/s"))
    }

    @Test(arguments: [
        ["list"], ["--spool", "/s"], ["frob", "--spool", "/s"], ["delete", "--spool", "/s"],
        ["delete", "../x", "--spool", "/s"], ["list", "extra", "--spool", "/s"],
    ])
    func usageErrors(args: [String]) {
        #expect(throws: UsageError.self) { try SpoolQueueCommand.parse(args) }
    }

    @Test func smtpQueueModeFlags() throws {
        let c = try SMTPRelayCommand.parse(["--listen", "127.0.0.1:2525", "--upstream", "127.0.0.1:25", "--hostname", "r.test",
                                            "--mode", "queue", "--spool", "/var/spool/r", "--spool-max-bytes", "10M",
                                            "--retry-initial", "1m", "--retry-max", "2h", "--retry-give-up", "72h"], cpuCount: 1)
        #expect(c.delivery == .queue && c.spoolDirectory == "/var/spool/r" && c.spoolMaxBytes == 10 << 20)
        #expect(c.retrySchedule == SpoolRetrySchedule(initialDelayMs: 60_000, maxDelayMs: 7_200_000, maxAgeMs: 3 * 86_400_000))
        let d = try SMTPRelayCommand.parse(["--listen", "127.0.0.1:2525", "--upstream", "127.0.0.1:25", "--hostname", "r.test"], cpuCount: 1)
        #expect(d.delivery == .relay && d.retrySchedule == .standard)
        #expect(throws: UsageError.self) {
            try SMTPRelayCommand.parse(["--listen", "127.0.0.1:2525", "--upstream", "127.0.0.1:25", "--mode", "queue"], cpuCount: 1)
        }
    }

    @Test func listLine() {
        var m = SpooledMessage(envelope: SpoolEnvelope(id: "X.0.1", arrivalUnixMs: 0, reversePath: "<a@b>", mailParameters: "",
                                                        recipients: ["<c@d>", "<e@f>"]),
                               bodyOffset: 10, fileBytes: 110, progress: SpoolProgress(recipientCount: 2))
        m.progress.recipients[0].status = .delivered
        m.progress.recipients[1].lastError = "451 4.2.0 busy"
        m.progress.nextAttemptUnixMs = 3_600_000 + 600_000
        #expect(SpoolQueueReport.line(m, nowUnixMs: 3_600_000) == "X.0.1\t110\t60m\t1/2\tin 10m\t<a@b>\t451 4.2.0 busy")
    }
}
