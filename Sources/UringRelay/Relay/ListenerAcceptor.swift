import Glibc

/// A worker's listening socket and its multishot accept, over the worker's life — the same
/// for every mode: armed at start; after its last completion re-armed at once when it ended
/// well, or by the next tick after an error (EMFILE, ENFILE: not in a tight loop); at drain
/// cancelled, and closed by that cancel's last completion (or at once when not armed).
struct ListenerAcceptor {
    private(set) var fd: Int32
    private(set) var armed = false
    let tag: UInt64

    init(fd: Int32, tag: UInt64) {
        self.fd = fd
        self.tag = tag
    }

    /// Whether the listener is still open (a drained worker's is closed).
    var isOpen: Bool { fd >= 0 }

    /// Arms the multishot accept unless it is armed or the listener is closed.
    mutating func arm<E: IOEngine>(_ engine: E) {
        guard fd >= 0, !armed else { return }
        armed = true
        engine.acceptMultishot(listener: fd, tag: tag)
    }

    /// One completion of the accept: the new client's fd to admit, or nil (an error, the
    /// accept's end, or a client that arrived during the drain, which is closed here).
    /// `onError` hears the errno of an accept that failed (to log it).
    mutating func completed<E: IOEngine>(_ c: Completion, draining: Bool, engine: E, onError: (Int32) -> Void) -> Int32? {
        if !c.hasMore {
            armed = false
            if draining || c.result == -ECANCELED {
                close(engine)
            } else if c.result >= 0 {
                arm(engine)
            }
        }
        guard c.result >= 0 else {
            if c.result != -ECANCELED { onError(-c.result) }
            return nil
        }
        if draining {
            engine.close(fd: c.result, tag: 0)
            return nil
        }
        return c.result
    }

    /// The drain: no more clients. The listener closes now, or when the cancelled accept ends.
    mutating func stop<E: IOEngine>(_ engine: E) {
        if armed {
            engine.cancelAll(fd: fd)
        } else {
            close(engine)
        }
    }

    private mutating func close<E: IOEngine>(_ engine: E) {
        guard fd >= 0 else { return }
        engine.close(fd: fd, tag: 0)
        fd = -1
    }
}
