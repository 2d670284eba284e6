import Testing
@testable import UringRelay

@Suite struct DeliveryStatusNotificationTests {
    @Test func multipartReportWithOneBlockPerFailedRecipientAndTheOriginalHeaders() {
        let envelope = SpoolEnvelope(id: "Q.0.1", arrivalUnixMs: 0, reversePath: "<s@client.test>", mailParameters: "",
                                     recipients: ["<a@x.test>", "<b@x.test>"])
        let body = Array("Received: from c\r\n\tby r; date\r\nSubject: hi\r\n..dotted: header\r\n\r\n..secret body\r\n".utf8)
        let dsn = DeliveryStatusNotification.make(
            hostname: "relay.test", envelope: envelope,
            failures: [.init(recipient: "<a@x.test>", diagnostic: "550 5.1.1 <a@x.test>: User unknown"),
                       .init(recipient: "<b@x.test>", diagnostic: "expired; last error: 451 4.2.0 busy", status: "4.4.7")],
            originalBody: body, nowUnixTime: 86_400, boundary: "B0UND")
        let text = String(decoding: dsn, as: UTF8.self)
        #expect(text.hasPrefix("From: MAILER-DAEMON@relay.test (Mail Delivery System)\r\nTo: s@client.test\r\n"))
        #expect(text.contains("Date: Fri, 02 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B0UND\"\r\n"))
        #expect(text.contains("--B0UND\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.test\r\n"))
        #expect(text.contains("\r\n\r\nFinal-Recipient: rfc822; a@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <a@x.test>: User unknown\r\n"))
        #expect(text.contains("\r\n\r\nFinal-Recipient: rfc822; b@x.test\r\nAction: failed\r\nStatus: 4.4.7\r\n"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nReceived: from c\r\n\tby r; date\r\nSubject: hi\r\n.dotted: header\r\n\r\n--B0UND--\r\n"),
                "headers unstuffed, body left out")
        #expect(!text.contains("secret body"))
        #expect(!DotStuffing.stuff(dsn).isEmpty)
    }

    @Test func statusComesFromTheEnhancedCodeOrDefaults() {
        #expect(DeliveryStatusNotification.Failure(recipient: "<a@b>", diagnostic: "552 5.3.4 too big").status == "5.3.4")
        #expect(DeliveryStatusNotification.Failure(recipient: "<a@b>", diagnostic: "550 no such user").status == "5.0.0")
    }

    @Test(arguments: [
        ("a\r\n.b\r\n", "a\r\n..b\r\n"),
        (".\r\n", "..\r\n"),
        ("no end", "no end\r\n"),
        ("", ""),
    ])
    func dotStuffingRoundTrips(plain: String, stuffed: String) {
        #expect(DotStuffing.stuff(Array(plain.utf8)) == Array(stuffed.utf8))
        if plain.hasSuffix("\r\n") || plain.isEmpty { #expect(DotStuffing.unstuff(Array(stuffed.utf8)) == Array(plain.utf8)) }
    }
}
