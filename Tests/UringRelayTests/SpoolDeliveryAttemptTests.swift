import Testing
@testable import UringRelay

@Suite struct SpoolDeliveryAttemptTests {
    static func reply(_ code: Int, _ enhanced: String? = nil, _ text: String = "x") -> SMTPReply {
        SMTPReply(code: code, enhanced: enhanced, text)
    }

    @Test func mixedRecipientsThenBody() {
        var a = SpoolDeliveryAttempt(recipients: [0, 1, 2])
        #expect(a.replied(Self.reply(250)) == .wait)
        #expect(a.replied(Self.reply(250, "2.1.5")) == .wait)
        #expect(a.replied(Self.reply(550, "5.1.1", "gone")) == .wait)
        #expect(a.replied(Self.reply(451, "4.2.0", "busy")) == .wait)
        #expect(a.replied(Self.reply(354)) == .sendBody)
        #expect(a.replied(Self.reply(250, "2.0.0", "queued")) == .finished)
        #expect(a.outcomes[0] == .delivered)
        #expect(a.outcomes[1] == .permanent("550 5.1.1 gone"))
        #expect(a.outcomes[2] == .transient("451 4.2.0 busy"))
    }

    @Test func refusedMailGivesItsReplyToEveryone() {
        var a = SpoolDeliveryAttempt(recipients: [0, 1])
        _ = a.replied(Self.reply(452, "4.3.1", "full"))
        _ = a.replied(Self.reply(503))  // pipelined RCPTs after a refused MAIL
        _ = a.replied(Self.reply(503))
        #expect(a.replied(Self.reply(554)) == .finished)
        #expect(a.outcomes == [0: .transient("452 4.3.1 full"), 1: .transient("452 4.3.1 full")])
    }

    @Test func endOfDataFailureConcernsTheAcceptedOnly() {
        var a = SpoolDeliveryAttempt(recipients: [3, 5])
        _ = a.replied(Self.reply(250))
        _ = a.replied(Self.reply(250))
        _ = a.replied(Self.reply(550, "5.1.1", "no"))
        #expect(a.replied(Self.reply(354)) == .sendBody)
        #expect(a.replied(Self.reply(554, "5.6.0", "rejected")) == .finished)
        #expect(a.outcomes == [3: .permanent("554 5.6.0 rejected"), 5: .permanent("550 5.1.1 no")])
    }

    @Test func a354WithNobodyAcceptedAbandonsTheConnection() {
        var a = SpoolDeliveryAttempt(recipients: [0])
        _ = a.replied(Self.reply(250))
        _ = a.replied(Self.reply(550))
        #expect(a.replied(Self.reply(354)) == .abandonConnection)
        #expect(a.outcomes[0] == .permanent("550 x"), "its own refusal stands")
    }

    @Test func aLostConnectionIsTransientForWhoeverIsOpen() {
        var a = SpoolDeliveryAttempt(recipients: [0, 1])
        _ = a.replied(Self.reply(250))
        _ = a.replied(Self.reply(550, "5.1.1", "no"))
        a.connectionFailed("upstream closed the connection")
        #expect(a.outcomes == [0: .permanent("550 5.1.1 no"), 1: .transient("upstream closed the connection")])
        #expect(a.isFinished)
    }
}
