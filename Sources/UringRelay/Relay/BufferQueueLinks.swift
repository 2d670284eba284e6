/// Per-buffer fields that let each connection direction keep a FIFO of pool buffers without
/// storage of its own: a buffer is in at most one queue, so `next`, `offset` and `length`
/// can be indexed by buffer id. Sized once to the pool.
struct BufferQueueLinks {
    let next: UnsafeMutablePointer<UInt16>
    /// Start of the unsent bytes in the buffer (a short send leaves a tail).
    let offset: UnsafeMutablePointer<UInt32>
    /// Unsent bytes from `offset`.
    let length: UnsafeMutablePointer<UInt32>

    init(bufferCount: Int) {
        next = .allocate(capacity: bufferCount)
        next.initialize(repeating: 0, count: bufferCount)
        offset = .allocate(capacity: bufferCount)
        offset.initialize(repeating: 0, count: bufferCount)
        length = .allocate(capacity: bufferCount)
        length.initialize(repeating: 0, count: bufferCount)
    }

    func deallocate() {
        next.deallocate()
        offset.deallocate()
        length.deallocate()
    }

    @inline(__always)
    func append(_ id: UInt16, bytes: Int32, to side: UnsafeMutablePointer<StreamSide>) {
        offset[Int(id)] = 0
        length[Int(id)] = UInt32(bytes)
        if side.pointee.queueCount == 0 {
            side.pointee.queueHead = id
        } else {
            next[Int(side.pointee.queueTail)] = id
        }
        side.pointee.queueTail = id
        side.pointee.queueCount += 1
    }

    /// Removes and returns the head buffer id.
    @inline(__always)
    func popHead(of side: UnsafeMutablePointer<StreamSide>) -> UInt16 {
        let id = side.pointee.queueHead
        side.pointee.queueCount -= 1
        if side.pointee.queueCount > 0 { side.pointee.queueHead = next[Int(id)] }
        return id
    }
}
