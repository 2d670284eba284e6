import Glibc
import UringRelay

/// rtsp workload: one publisher sending the synthetic stream (RTSPBenchStream) into a publish
/// path of the relay, then `readers` readers joining it over one transport.
///
/// 1. The publisher runs alone for `warmupNs` (so readers join a stream in progress, between
///    keyframes, and the relay has the packets since the last one).
/// 2. Readers are set up one after another (DESCRIBE/SETUP/PLAY); each counts the time from
///    its PLAY to the first packet of a keyframe.
/// 3. `settleNs` after the last PLAY (the relay's catch-up bursts are over) the measured
///    window starts on a frame boundary and lasts `durationNs`: every packet the publisher
///    sends in it should reach every reader; what does not is loss. Latency runs from a
///    frame's intended send time to each packet's arrival at a reader.
/// Any damaged byte, duplicate or reordered packet, changed distance between sequence numbers
/// or timestamps, a reader whose first media is not a keyframe, TCP loss, or UDP loss beyond
/// `lossAllowance` makes the run invalid.
struct RTSPLoad {
    var relayPort: UInt16
    /// The relay, for its CPU time; nil when not measured.
    var relayPid: pid_t?
    var path: String
    var stream: RTSPBenchStream
    var transport: RTSPTransport.LowerTransport
    var readers: Int
    var warmupNs: UInt64
    var settleNs: UInt64
    var durationNs: UInt64
    var cpu: Int?
    /// Reader threads (each serves a share of the readers).
    var readerThreads = 2
    /// UDP loss still counted as a valid run (as RTPLoad's): loopback drops only when a socket
    /// queue overflows. TCP allows none.
    var lossAllowance = 0.001
    var drainNs: UInt64 = 500_000_000
    /// Readers not set up by then are left out (and the run is invalid).
    var setupTimeoutNs: UInt64 = 30_000_000_000

    func execute() -> RTSPLoadOutcome {
        var outcome = RTSPLoadOutcome(transport: transport, readersOpened: readers, bitsPerSecond: stream.bitsPerSecond)
        let publisher: RTSPPublisher
        switch RTSPPublisher.start(port: relayPort, path: path, stream: stream) {
        case .failure(let e):
            outcome.problems.append("publisher: \(e)")
            return outcome
        case .success(let p): publisher = p
        }
        defer { publisher.close() }
        let interval = stream.frameIntervalNs
        // Enough frames for the slowest set-up allowed (each of its requests may wait 5 s).
        let frameBound = Int(Double(warmupNs + setupTimeoutNs + 20_000_000_000 + settleNs + durationNs) / interval)
        // A little ahead, so the publisher thread is waiting when frame 0 is due.
        let shared = RTSPLoadShared(stream: stream, t0Ns: MonotonicClock.nowNs() + 20_000_000, endFrame: frameBound)
        let loadCPU = cpu
        let publishing = WorkerThread(name: "bench-rtsp-pub") { publisher.run(shared: shared, cpu: loadCPU) }

        let all = (0..<readers).map { _ in RTSPBenchReader(transport: transport) }
        let threadCount = max(1, min(readerThreads, readers))
        var groups: [RTSPReaderGroup] = []
        do throws(SystemError) {
            for g in 0..<threadCount {
                groups.append(try RTSPReaderGroup(readers: stride(from: g, to: readers, by: threadCount).map { all[$0] }))
            }
        } catch {
            shared.endFrame.store(0, ordering: .releasing)
            publishing.join()
            outcome.problems.append("reader threads: \(error)")
            return outcome
        }
        let drain = drainNs
        let threads = groups.map { group in
            WorkerThread(name: "bench-rtsp-read") { group.run(shared: shared, cpu: loadCPU, drainNs: drain) }
        }

        CPUPinning.pinCurrentThread(cpu)
        RequestResponseLoad.sleep(untilNs: shared.t0Ns + warmupNs)
        // Packets before the window are checked but not timed.
        var early = LatencyHistogram()
        let setupDeadline = MonotonicClock.nowNs() + setupTimeoutNs
        for (i, r) in all.enumerated() {
            guard MonotonicClock.nowNs() < setupDeadline else {
                r.end("not set up: the readers before it took over \(setupTimeoutNs / 1_000_000_000) s")
                continue
            }
            if r.open(port: relayPort, path: path, shared: shared, histogram: &early), groups[i % threadCount].add(i / threadCount) {
                outcome.readersPlaying += 1
            }
        }

        let firstFrame = Int((Double(MonotonicClock.nowNs() + settleNs - shared.t0Ns) / interval).rounded(.up))
        let frames = max(1, Int(Double(durationNs) / interval))
        let endFrame = firstFrame + frames
        shared.windowStart.store(stream.firstPacket(ofFrame: firstFrame), ordering: .releasing)
        shared.windowEnd.store(stream.firstPacket(ofFrame: endFrame), ordering: .releasing)
        // Two frames after the window, so a reader that got the window's last packet is known to be current.
        shared.endFrame.store(endFrame + 2, ordering: .releasing)
        RequestResponseLoad.sleep(untilNs: shared.dueNs(frame: firstFrame))
        let cpuAtStart = relayPid.flatMap { ProcessUsage.cpuSeconds(pid: $0) }
        RequestResponseLoad.sleep(untilNs: shared.dueNs(frame: endFrame))
        if let a = cpuAtStart, let b = relayPid.flatMap({ ProcessUsage.cpuSeconds(pid: $0) }) { outcome.relayCPUSeconds = b - a }
        publishing.join()
        for t in threads { t.join() }

        outcome.packetsSent = shared.sent.load(ordering: .acquiring)
        outcome.windowPackets = stream.firstPacket(ofFrame: endFrame) - stream.firstPacket(ofFrame: firstFrame)
        outcome.measuredSeconds = Double(frames) * interval / 1e9
        outcome.publisherMaxLagNs = publisher.maxLagNs
        if let e = publisher.error { outcome.problems.append("publisher: \(e)") }
        if outcome.packetsSent < stream.firstPacket(ofFrame: endFrame) {
            outcome.problems.append("the publisher stopped at packet \(outcome.packetsSent), before the end of the window")
        }
        summarize(all, groups, endFrame: endFrame, frames: frames, into: &outcome)
        for r in all { r.close() }
        return outcome
    }

    private func summarize(_ all: [RTSPBenchReader], _ groups: [RTSPReaderGroup], endFrame: Int, frames: Int,
                           into outcome: inout RTSPLoadOutcome) {
        // Held: still connected, and something from the window's last quarter (at most half a
        // second of it) arrived.
        let tailFrames = max(1, min(frames / 4, stream.framesPerSecond / 2))
        let tailStart = stream.firstPacket(ofFrame: endFrame - tailFrames)
        var notSetUp: [String] = [], notHeld: [String] = [], midGOP = 0, noKeyframe = 0
        var corrupt = 0, outOfOrder = 0, continuity = 0
        var firstCorruption: String?, firstContinuity: String?
        for r in all {
            outcome.receivedInWindow += r.inWindow
            guard r.handedOver.load(ordering: .acquiring) else {
                notSetUp.append(r.ended ?? "not set up")
                continue
            }
            if r.ended == nil && r.lastWindowIndex >= tailStart {
                outcome.readersHeld += 1
            } else {
                notHeld.append(r.ended ?? "nothing from the last \(tailFrames) frames of the window (last packet \(r.lastWindowIndex))")
            }
            if r.parameterSetsFirst { outcome.readersGivenParameterSets += 1 }
            if r.startedOnKeyframe == false { midGOP += 1 }
            if let k = r.firstKeyframeNs { outcome.firstFrameNs.append(k > r.playSentNs ? k - r.playSentNs : 0) } else { noKeyframe += 1 }
            corrupt += r.corrupt
            outOfOrder += r.outOfOrder
            continuity += r.continuityErrors
            firstCorruption = firstCorruption ?? r.firstCorruption
            firstContinuity = firstContinuity ?? r.firstContinuityError
        }
        for g in groups {
            outcome.histogram.merge(g.histogram)
            if let e = g.error { outcome.problems.append("reader thread: \(e)") }
        }
        let n = all.count
        if !notSetUp.isEmpty { outcome.problems.append("\(notSetUp.count) of \(n) readers could not play (first: \(notSetUp[0]))") }
        if !notHeld.isEmpty { outcome.problems.append("\(notHeld.count) of \(n) readers not held to the end (first: \(notHeld[0]))") }
        if midGOP > 0 { outcome.problems.append("\(midGOP) of \(n) readers got media before a keyframe (a new reader must start on one)") }
        if noKeyframe > 0 { outcome.problems.append("\(noKeyframe) of \(n) readers never got a keyframe") }
        if corrupt > 0 { outcome.problems.append("\(corrupt) packets differ from what was sent (first: \(firstCorruption ?? "?"))") }
        if outOfOrder > 0 { outcome.problems.append("\(outOfOrder) packets duplicated or out of order") }
        if continuity > 0 { outcome.problems.append("\(continuity) sequence/timestamp steps changed by the relay (first: \(firstContinuity ?? "?"))") }
        let allowed = transport == .tcp ? 0 : Int(Double(outcome.expectedInWindow) * lossAllowance)
        if outcome.lostPackets > allowed {
            outcome.problems.append("\(outcome.lostPackets) of \(outcome.expectedInWindow) window packets lost (\(NumberText.fixed(outcome.lossPercent, 3)) %)"
                + (transport == .tcp ? " over TCP, where nothing may be lost" : ", more than the \(NumberText.fixed(lossAllowance * 100, 1)) % allowed"))
        }
        if outcome.problems.isEmpty && outcome.receivedInWindow == 0 { outcome.problems.append("no packet in the measured window") }
    }
}
