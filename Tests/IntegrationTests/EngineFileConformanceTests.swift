import Foundation
import Glibc
import Testing
@testable import UringRelay

/// The file half of the engine seam (the spool's writes and syncs), on both engines: the same
/// completions, the same results, errors as -errno.
@Suite struct EngineFileConformanceTests {
    @Test(arguments: [EngineChoice.uring, .epoll])
    func writeAtOffsetsThenSyncFileAndDirectory(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try EngineConformanceTests.makeEngine(kind)
        let dir = try TemporaryDirectory("engine-file")
        let fd = open(dir.file("f"), O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        let first = Array("hello ".utf8), second = Array("world\n".utf8)
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: 6, alignment: 1)
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: 6, alignment: 1)
        defer { a.deallocate(); b.deallocate() }
        a.copyBytes(from: first)
        b.copyBytes(from: second)
        // Two writes at their own offsets may run in either order; the file ends up the same.
        engine.writeFile(fd: fd, bytes: a.baseAddress!, count: 6, offset: 0, tag: 1)
        engine.writeFile(fd: fd, bytes: b.baseAddress!, count: 6, offset: 6, tag: 2)
        var writes: [Completion] = []
        _ = try EngineConformanceTests.collect(engine) { c in
            if c.kind == .fileWrite { writes.append(c) }
            return writes.count == 2
        }
        #expect(Set(writes.map(\.tag)) == [1, 2] && writes.allSatisfy { $0.result == 6 })
        engine.syncFile(fd: fd, dataOnly: true, tag: 3)
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(dfd >= 0)
        defer { close(dfd) }
        engine.syncFile(fd: dfd, dataOnly: false, tag: 4)
        var syncs: [Completion] = []
        _ = try EngineConformanceTests.collect(engine) { c in
            if c.kind == .fileSync { syncs.append(c) }
            return syncs.count == 2
        }
        #expect(Set(syncs.map(\.tag)) == [3, 4] && syncs.allSatisfy { $0.result == 0 })
        let text = try String(contentsOfFile: dir.file("f"), encoding: .utf8)
        #expect(text == "hello world\n")
    }

    @Test(arguments: [EngineChoice.uring, .epoll])
    func fileErrorsComeBackAsNegativeErrno(kind: EngineChoice) throws {
        guard TestEnvironment.canRun(kind) else { return }
        let engine = try EngineConformanceTests.makeEngine(kind)
        let dir = try TemporaryDirectory("engine-file")
        let fd = open(dir.file("ro"), O_CREAT | O_RDONLY | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { bytes.deallocate() }
        engine.writeFile(fd: fd, bytes: bytes.baseAddress!, count: 4, offset: 0, tag: 9)
        engine.syncFile(fd: -1, dataOnly: false, tag: 10)
        var seen: [Completion] = []
        _ = try EngineConformanceTests.collect(engine) { c in
            if c.kind == .fileWrite || c.kind == .fileSync { seen.append(c) }
            return seen.count == 2
        }
        #expect(seen.first { $0.tag == 9 }?.result == -EBADF)
        #expect(seen.first { $0.tag == 10 }?.result == -EBADF)
    }
}
