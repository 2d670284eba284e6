import Testing
@testable import UringRelay

@Suite struct RTSPTransportTests {
    typealias P = RTSPPortPair

    @Test func parsesATCPSetupAndEchoesTheAskedPair() throws {
        // A publisher's SETUP for its first track asks 2-3: accepted as asked.
        let t = try #require(RTSPTransport.parse("RTP/AVP/TCP;unicast;interleaved=2-3;mode=record"))
        #expect(t.profile == "RTP/AVP/TCP" && t.lowerTransport == .tcp && t.unicast == true)
        #expect(t.interleaved == P(2, 3))
        #expect(t.mode == "RECORD")
        #expect(t.serialized() == "RTP/AVP/TCP;unicast;interleaved=2-3;mode=RECORD")
    }

    @Test func aTCPSetupWithoutInterleavedHasNone() throws {
        // The server then allocates a free pair itself.
        let t = try #require(RTSPTransport.parse("RTP/AVP/TCP;unicast"))
        #expect(t.lowerTransport == .tcp && t.interleaved == nil)
    }

    @Test func theCameraAnswersAnotherPairOrNone() throws {
        // Asked 0-1; the reply's pair wins when there is one, otherwise the caller keeps 0-1.
        let answered = try #require(RTSPTransport.parse("RTP/AVP/TCP;unicast;interleaved=4-5;ssrc=1A2B3C4D;mode=\"PLAY\""))
        #expect(answered.interleaved == P(4, 5) && answered.ssrc == 0x1A2B_3C4D && answered.mode == "PLAY")
        let silent = try #require(RTSPTransport.parse("RTP/AVP/TCP;unicast;mode=play"))
        #expect(silent.interleaved == nil)
    }

    /// (spec, profile, lower, unicast, client_port, server_port, interleaved, ssrc, mode, destination, source)
    static let quirks: [(String, String, RTSPTransport.LowerTransport, Bool?, P?, P?, P?, UInt32?, String?, String?, String?)] = [
        ("RTP/AVP;unicast;client_port=3456-3457;server_port=6970-6971;ssrc= 4317f", "RTP/AVP", .udp, true,
         P(3456, 3457), P(6970, 6971), nil, 0x4317F, nil, nil, nil),
        ("RTP/AVP;unicast;client_port=3456-3457;ssrc=     D93FF;mode=play", "RTP/AVP", .udp, true,
         P(3456, 3457), nil, nil, 0xD93FF, "PLAY", nil, nil),
        ("RTP/AVP;unicast;ssrc=abc", "RTP/AVP", .udp, true, nil, nil, nil, 0xABC, nil, nil, nil),
        ("RTP/AVP;unicast;ssrc=1449463210", "RTP/AVP", .udp, true, nil, nil, nil, nil, nil, nil, nil),
        ("RTP/AVP;unicast;ssrc=0xZZ", "RTP/AVP", .udp, true, nil, nil, nil, nil, nil, nil, nil),
        ("RTP/AVP;unicast;client_port=14186;source=", "RTP/AVP", .udp, true, P(14186, nil), nil, nil, nil, nil, nil, nil),
        ("RTP/AVP;unicast;client_port=14186-14187;mode=\"PLAY\"", "RTP/AVP", .udp, true, P(14186, 14187), nil, nil, nil,
         "PLAY", nil, nil),
        ("client_port=3456-3457;RTP/AVP;mode=\"PLAY\";unicast", "RTP/AVP", .udp, true, P(3456, 3457), nil, nil, nil,
         "PLAY", nil, nil),
        ("RTP/AVP/UDP;unicast;client_port=5000-5001", "RTP/AVP/UDP", .udp, true, P(5000, 5001), nil, nil, nil, nil, nil, nil),
        ("RTP/AVP/TCP;unicast;destination=198.51.100.9;source=198.51.100.7;interleaved=0-1", "RTP/AVP/TCP", .tcp, true,
         nil, nil, P(0, 1), nil, nil, "198.51.100.9", "198.51.100.7"),
        (" RTP/AVP/TCP ; unicast ; interleaved = 0-1 ; mode = \"PLAY\" ", "RTP/AVP/TCP", .tcp, true, nil, nil, P(0, 1), nil,
         "PLAY", nil, nil),
        ("rtp/avp/tcp;interleaved=6-7", "rtp/avp/tcp", .tcp, nil, nil, nil, P(6, 7), nil, nil, nil, nil),
        ("RTP/AVP;multicast;destination=233.252.0.1;port=5000-5001;ttl=16", "RTP/AVP", .udp, false, nil, nil, nil, nil,
         nil, "233.252.0.1", nil),
        ("RTP/AVP;unicast;client_port=99999-100000;interleaved=300-301", "RTP/AVP", .udp, true, nil, nil, nil, nil, nil, nil, nil),
    ]

    @Test(arguments: quirks)
    func parsesCameraQuirks(_ spec: String, _ profile: String, _ lower: RTSPTransport.LowerTransport, _ unicast: Bool?,
                            _ client: P?, _ server: P?, _ interleaved: P?, _ ssrc: UInt32?, _ mode: String?,
                            _ destination: String?, _ source: String?) throws {
        let t = try #require(RTSPTransport.parse(spec), "\(spec)")
        #expect(t.profile == profile, "\(spec)")
        #expect(t.lowerTransport == lower, "\(spec)")
        #expect(t.unicast == unicast, "\(spec)")
        #expect(t.clientPort == client, "\(spec)")
        #expect(t.serverPort == server, "\(spec)")
        #expect(t.interleaved == interleaved, "\(spec)")
        #expect(t.ssrc == ssrc, "\(spec)")
        #expect(t.mode == mode, "\(spec)")
        #expect(t.destination == destination, "\(spec)")
        #expect(t.source == source, "\(spec)")
    }

    @Test func keepsUnknownParametersAndTTL() throws {
        let t = try #require(RTSPTransport.parse("RTP/AVP;multicast;destination=233.252.0.1;port=5000-5001;ttl=16;append"))
        #expect(t.ttl == 16)
        #expect(t.otherParameters == ["port=5000-5001", "append"])
        #expect(t.serialized() == "RTP/AVP;multicast;destination=233.252.0.1;ttl=16;port=5000-5001;append")
    }

    @Test func rejectsSpecsWithoutAProfile() {
        #expect(RTSPTransport.parse("unicast;client_port=1-2") == nil)
        #expect(RTSPTransport.parse("") == nil)
    }

    @Test func parsesAlternativesSkippingBadOnes() {
        let list = RTSPTransport.parseList("RTP/AVP/TCP;unicast;interleaved=0-1, garbage;x=1 ,RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY,RECORD\"")
        #expect(list.count == 2)
        #expect(list.first?.lowerTransport == .tcp)
        #expect(list.last?.clientPort == P(5000, 5001))
        #expect(list.last?.mode == "PLAY,RECORD")
    }

    @Test func serializesInAStableOrder() {
        let t = RTSPTransport(profile: "RTP/AVP", unicast: true, clientPort: P(5000, 5001), serverPort: P(6970, 6971),
                              ssrc: 0x4317F, mode: "play")
        #expect(t.serialized() == "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=0004317F;mode=PLAY")
        let single = RTSPTransport(unicast: nil, clientPort: P(14186, nil))
        #expect(single.serialized() == "RTP/AVP;client_port=14186")
    }

    @Test func roundTripsThroughSerialization() throws {
        for spec in ["RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=DEADBEEF;mode=PLAY",
                     "RTP/AVP;unicast;destination=198.51.100.9;source=198.51.100.7;client_port=5000-5001;server_port=6970-6971"] {
            let t = try #require(RTSPTransport.parse(spec))
            #expect(t.serialized() == spec)
            #expect(RTSPTransport.parse(t.serialized()) == t)
        }
    }

    @Test func profileAndLowerTransportStayConsistent() {
        var t = RTSPTransport(profile: "RTP/AVP")
        #expect(t.lowerTransport == .udp)
        t.profile = "RTP/AVP/TCP"
        #expect(t.lowerTransport == .tcp)
        t.lowerTransport = .udp
        #expect(t.profile == "RTP/AVP")
        t.lowerTransport = .tcp
        #expect(t.profile == "RTP/AVP/TCP")
        t.profile = "RTP/AVP/UDP"
        #expect(t.lowerTransport == .udp && t.profile == "RTP/AVP/UDP")
    }
}
