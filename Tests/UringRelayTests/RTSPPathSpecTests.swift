import Testing
@testable import UringRelay

@Suite struct RTSPPathSpecTests {
    @Test func parsesPullAlwaysAndPublish() throws {
        let pull = try RTSPPathSpec.parse("cam1=rtsp://admin:pa%23ss@198.51.100.7:554/live").get()
        #expect(pull.name == "cam1")
        guard case .pull(let url, let always) = pull.source else { Issue.record("not pull"); return }
        #expect(!always && url.password == "pa#ss" && url.requestURI == "rtsp://198.51.100.7:554/live")
        let on = try RTSPPathSpec.parse("/site/cam2/=always:rtsp://198.51.100.8/s").get()
        #expect(on.name == "site/cam2")
        guard case .pull(_, true) = on.source else { Issue.record("not always"); return }
        #expect(try RTSPPathSpec.parse("pub=publish").get().source == .publish)
    }

    @Test(arguments: ["cam", "=publish", "a b=publish", "x//y=publish", "cam=http://h/x", "cam=rtsps://h/x", "cam=always:", "cam/trackID=0=publish", "..=publish", "a/../b=publish", "cam=rtsp://u:p%zz@h/x", "cam=rtsp://h:99999/x"])
    func refusesWhatIsNotAPath(_ text: String) {
        guard case .failure(let why) = RTSPPathSpec.parse(text) else { Issue.record("accepted \(text)"); return }
        #expect(!why.message.isEmpty)
    }
}
